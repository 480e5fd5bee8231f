/**
 * Sign-in on Postgres: sign-up, sign-in and ownership with real sessions, and a host that refuses to start
 * without a secret.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import { client, freshDatabase, helloGraph, signIn, signUp, startTestHost } from "./api-support.js"

let db: Awaited<ReturnType<typeof freshDatabase>>
let host: RunningHost

beforeAll(async () => {
  db = await freshDatabase("auth")
  host = await startTestHost({ databaseUrl: db.url })
})
afterAll(async () => {
  await host?.close()
  await db?.drop()
})

it("signs users up and in; each sees only their own graphs and runs", async () => {
  const alice = await signUp(host.url, "alice")
  const bob = await signUp(host.url, "bob")
  expect(alice.userId).not.toBe(bob.userId)
  const graph = await client(host.url, alice).post<{ id: string }>("/api/graphs", helloGraph("Alice's"))
  expect(graph.status).toBe(201)
  const run = await client(host.url, alice).post<{ id: string }>(`/api/graphs/${graph.body.id}/runs`, {
    inputs: { topic: "pg" },
  })
  expect(run.status).toBe(201)
  const again = await signIn(host.url, alice.email)
  expect(again.userId).toBe(alice.userId)
  expect((await client(host.url, again).get(`/api/runs/${run.body.id}`)).status).toBe(200)
  expect((await client(host.url, bob).get(`/api/graphs/${graph.body.id}`)).status).toBe(404)
  expect((await client(host.url, bob).get(`/api/runs/${run.body.id}`)).status).toBe(404)
  expect((await client(host.url, bob).get("/api/graphs")).body).toEqual([])
  expect((await client(host.url).get("/api/graphs")).status).toBe(401)
  const wrong = await fetch(`${host.url}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: alice.email, password: "wrong password" }),
  })
  expect(wrong.status).toBe(401)
})

it("a second host on the same database accepts the session (shared secret)", async () => {
  const carol = await signUp(host.url, "carol")
  const other = await startTestHost({ databaseUrl: db.url, resume: false })
  try {
    expect((await client(other.url, carol).get("/api/graphs")).status).toBe(200)
  } finally {
    await other.close()
  }
})

it("refuses to start on Postgres without a secret", async () => {
  await expect(startTestHost({ databaseUrl: db.url, resume: false, auth: { secret: "" } })).rejects.toThrow(
    /BETTER_AUTH_SECRET/,
  )
  await expect(
    startTestHost({ databaseUrl: db.url, resume: false, auth: { secret: "too short" } }),
  ).rejects.toThrow(/at least 32/)
})

import { afterEach, expect, it } from "vitest"
import { connect, type Running, start, until } from "./support.js"

let running: Running | undefined

afterEach(async () => {
  await running?.server.destroy()
  running = undefined
})

it("churn: 2,000 connects and disconnects leave no open document and no connection", async () => {
  running = await start()
  const total = 2_000
  const batch = 100
  const started = performance.now()
  for (let offset = 0; offset < total; offset += batch) {
    const wave = Array.from({ length: batch }, (_, k) =>
      connect(running!.url, (offset + k) % 2 === 0 ? "graph:g1" : "graph:g3", "tok-alice"),
    )
    const outcomes = await Promise.all(wave.map((c) => c.outcome))
    expect(outcomes.every((o) => o === "synced")).toBe(true)
    for (const client of wave) client.close()
  }
  await until(
    () => running!.server.openDocumentCount() === 0 && running!.server.hocuspocus.getConnectionsCount() === 0,
    10_000,
    "every document to unload",
  )
  const seconds = (performance.now() - started) / 1000
  console.log(`churn: ${total} connect/sync/disconnect cycles in ${seconds.toFixed(2)} s`)
  expect(running.server.openDocumentCount()).toBe(0)
  expect(running.server.hocuspocus.getConnectionsCount()).toBe(0)
}, 60_000)

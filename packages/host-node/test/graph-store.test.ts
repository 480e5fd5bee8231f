import { coreBlocks } from "@weft/blocks"
import { BlockRegistry, Executor, type Graph, GraphLoader, type GraphLoaderShape } from "@weft/engine"
import { Cause, Effect, Exit, Fiber, Layer, type ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GraphStore, RunQueries, Sql } from "../src/index.js"
import { createDatabase, drivers, rows, type Stores, storesRuntime, type TestDatabase } from "./support/db.js"

const graph = (id: string, name: string, nodes = 1): Graph => ({
  id,
  version: 1,
  name,
  nodes: Array.from({ length: nodes }, (_, i) => ({
    id: `n${i}`,
    blockId: "weft/io/agent-output",
    inputDefault: { name: `o${i}`, value: i },
  })),
  links: [],
})

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe.each(drivers)("GraphStore on %s", (driver) => {
  let db: TestDatabase
  let runtime: ManagedRuntime.ManagedRuntime<Stores, never>
  const store = <A, E>(f: (s: GraphStore["Service"]) => Effect.Effect<A, E>) =>
    runtime.runPromise(GraphStore.use(f))
  const storeExit = <A, E>(f: (s: GraphStore["Service"]) => Effect.Effect<A, E>) =>
    runtime.runPromiseExit(GraphStore.use(f))
  let n = 0
  const newId = (prefix: string) => `${prefix}-${driver}-${++n}-${Math.random().toString(36).slice(2, 8)}`

  beforeAll(async () => {
    db = await createDatabase(driver)
    runtime = storesRuntime(db)
    // The accounts table better-auth makes in a host's database (the columns the store reads).
    await rows(
      runtime,
      'CREATE TABLE "user" (id text PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE)',
    )
  })

  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
  })

  it("keeps a graph's own id when it is free, and stamps id and version into the stored graph", async () => {
    const id = newId("own")
    const created = await store((s) => s.create("alice", { ...graph(id, "First"), version: 9 }))
    expect(created).toEqual({ id, version: 1 })
    const got = await store((s) => s.get("alice", id))
    expect(got).toEqual({
      id,
      version: 1,
      role: "owner",
      graph: graph(id, "First"),
      subGraphs: [],
      activeVersion: 1,
      versions: [1],
    })
  })

  it("gives a new id when the graph's id is taken, by anyone", async () => {
    const id = newId("taken")
    await store((s) => s.create("alice", graph(id, "Alice's")))
    const bobs = await store((s) => s.create("bob", graph(id, "Bob's")))
    const again = await store((s) => s.create("alice", graph(id, "Alice's again")))
    expect(bobs.id).not.toBe(id)
    expect(again.id).not.toBe(id)
    expect(again.id).not.toBe(bobs.id)
    expect((await store((s) => s.get("bob", bobs.id))).graph).toEqual(graph(bobs.id, "Bob's"))
    expect((await store((s) => s.get("alice", id))).graph.name).toBe("Alice's")
  })

  it("adds versions that become active, keeps every version, and switches the active one", async () => {
    const { id } = await store((s) => s.create("alice", graph(newId("versions"), "v1")))
    expect(await store((s) => s.newVersion("alice", id, graph("ignored", "v2", 2)))).toEqual({
      id,
      version: 2,
    })
    expect(await store((s) => s.newVersion("alice", id, graph("ignored", "v3", 3)))).toEqual({
      id,
      version: 3,
    })
    const active = await store((s) => s.get("alice", id))
    expect(active).toMatchObject({ version: 3, activeVersion: 3, versions: [1, 2, 3] })
    expect(active.graph).toEqual({ ...graph(id, "v3", 3), version: 3 })
    expect((await store((s) => s.get("alice", id, 2))).graph).toEqual({ ...graph(id, "v2", 2), version: 2 })

    await store((s) => s.setActive("alice", id, 1))
    expect(await store((s) => s.get("alice", id))).toMatchObject({ version: 1, activeVersion: 1 })
    const history = await store((s) => s.versions("alice", id))
    expect(history.map(({ version, name, active }) => ({ version, name, active }))).toEqual([
      { version: 1, name: "v1", active: true },
      { version: 2, name: "v2", active: false },
      { version: 3, name: "v3", active: false },
    ])
    expect(history.every((v) => typeof v.createdAt === "number" && v.createdAt > 0)).toBe(true)
    const listed = (await store((s) => s.list("alice"))).find((g) => g.id === id)
    expect(listed).toMatchObject({ id, name: "v1", activeVersion: 1, latestVersion: 3 })

    expect(failureOf(await storeExit((s) => s.setActive("alice", id, 4)))).toMatchObject({
      _tag: "GraphNotFound",
      graphId: id,
      version: 4,
    })
    expect(failureOf(await storeExit((s) => s.get("alice", id, 4)))).toMatchObject({ _tag: "GraphNotFound" })
    // A new version after switching back still takes the next number.
    expect(await store((s) => s.newVersion("alice", id, graph(id, "v4")))).toEqual({ id, version: 4 })
  })

  it("numbers concurrent new versions without gaps or repeats", async () => {
    const { id } = await store((s) => s.create("alice", graph(newId("parallel"), "v1")))
    const made = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store((s) => s.newVersion("alice", id, graph(id, `p${i}`)))),
    )
    expect(made.map((m) => m.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 2),
    )
    expect((await store((s) => s.get("alice", id))).versions).toEqual(
      Array.from({ length: 13 }, (_, i) => i + 1),
    )
  })

  it("stores sub-graphs with their version and forks a version into a new graph of the same owner", async () => {
    const sub = { ...graph("sub-agent", "Sub"), version: 4 }
    const { id } = await store((s) => s.create("alice", graph(newId("forkable"), "Original"), [sub]))
    await store((s) => s.newVersion("alice", id, graph(id, "Second")))
    const fork = await store((s) => s.fork("alice", id, 1))
    expect(fork.version).toBe(1)
    expect(fork.id).not.toBe(id)
    const forked = await store((s) => s.get("alice", fork.id))
    expect(forked).toEqual({
      id: fork.id,
      version: 1,
      role: "owner",
      graph: graph(fork.id, "Original"),
      subGraphs: [sub],
      activeVersion: 1,
      versions: [1],
      forkedFrom: { id, version: 1 },
    })
    const ofActive = await store((s) => s.fork("alice", id))
    expect((await store((s) => s.get("alice", ofActive.id))).forkedFrom).toEqual({ id, version: 2 })
    expect((await store((s) => s.list("alice"))).find((g) => g.id === fork.id)?.forkedFrom).toEqual({
      id,
      version: 1,
    })
  })

  it("treats another owner's graph exactly like a missing one", async () => {
    const { id } = await store((s) => s.create("alice", graph(newId("private"), "Private")))
    const missing = newId("nothing")
    const attempts = (graphId: string) => [
      storeExit((s) => s.get("mallory", graphId)),
      storeExit((s) => s.get("mallory", graphId, 1)),
      storeExit((s) => s.versions("mallory", graphId)),
      storeExit((s) => s.newVersion("mallory", graphId, graph(graphId, "Hijack"))),
      storeExit((s) => s.setActive("mallory", graphId, 1)),
      storeExit((s) => s.fork("mallory", graphId)),
      storeExit((s) => s.loaderFor("mallory").load(graphId)),
    ]
    const onOthers = (await Promise.all(attempts(id))).map(failureOf)
    const onMissing = (await Promise.all(attempts(missing))).map(failureOf)
    for (const [i, failure] of onOthers.entries()) {
      expect(failure).toMatchObject({ _tag: "GraphNotFound", graphId: id })
      expect({ ...(failure as object), graphId: "x" }).toEqual({ ...(onMissing[i] as object), graphId: "x" })
    }
    expect((await store((s) => s.list("mallory"))).map((g) => g.id)).not.toContain(id)
    // Alice's graph is unchanged: no version was added and no fork was made.
    expect((await store((s) => s.get("alice", id))).versions).toEqual([1])
    expect(await rows(runtime, "SELECT id FROM graphs WHERE forked_from_id = $1", [id])).toEqual([])
  })

  it("lists only the owner's graphs, most recently updated first", async () => {
    const owner = newId("lister")
    const a = await store((s) => s.create(owner, graph(newId("la"), "A")))
    const b = await store((s) => s.create(owner, graph(newId("lb"), "B")))
    await new Promise((resolve) => setTimeout(resolve, 5))
    await store((s) => s.newVersion(owner, a.id, graph(a.id, "A2")))
    const list = await store((s) => s.list(owner))
    expect(list.map((g) => [g.id, g.name])).toEqual([
      [a.id, "A2"],
      [b.id, "B"],
    ])
  })

  it("R15: loads sub-graphs stored with the version, then the owner's graphs, never another owner's", async () => {
    const owner = newId("loader")
    const subV1 = { ...graph("shared-sub", "Sub v1"), version: 1 }
    const subV2 = { ...graph("shared-sub", "Sub v2"), version: 2 }
    const root = await store((s) => s.create(owner, graph(newId("root"), "Root"), [subV1, subV2]))
    const helper = await store((s) => s.create(owner, graph(newId("helper"), "Helper v1")))
    await store((s) => s.newVersion(owner, helper.id, graph(helper.id, "Helper v2")))
    await store((s) => s.setActive(owner, helper.id, 1))
    const foreign = await store((s) => s.create(newId("stranger"), graph(newId("foreign"), "Foreign")))

    const load = (loader: GraphLoaderShape, id: string, version?: number) =>
      runtime.runPromiseExit(loader.load(id, version))
    const nameOf = (exit: Exit.Exit<Graph, unknown>) =>
      Exit.isSuccess(exit) ? exit.value.name : failureOf(exit)
    const rooted = await store((s) => Effect.succeed(s.loaderFor(owner, root)))
    const plain = await store((s) => Effect.succeed(s.loaderFor(owner)))

    expect(nameOf(await load(rooted, "shared-sub", 1))).toBe("Sub v1")
    expect(nameOf(await load(rooted, "shared-sub"))).toBe("Sub v2")
    expect(nameOf(await load(plain, "shared-sub", 1))).toBe("Sub v1")
    expect(nameOf(await load(rooted, helper.id))).toBe("Helper v1") // the active version
    expect(nameOf(await load(rooted, helper.id, 2))).toBe("Helper v2")
    expect(nameOf(await load(rooted, "shared-sub", 3))).toMatchObject({ _tag: "GraphNotFound", version: 3 })
    expect(nameOf(await load(rooted, foreign.id))).toMatchObject({
      _tag: "GraphNotFound",
      graphId: foreign.id,
    })
  })

  it("R15: runs a stored graph whose agent node runs a stored sub-graph, the child run owned like its parent", async () => {
    const owner = newId("runner")
    const child: Graph = {
      id: "child-agent",
      version: 1,
      name: "Child",
      nodes: [
        { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "x" } },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "y" } },
      ],
      links: [{ sourceId: "in", sourceName: "result", sinkId: "out", sinkName: "value" }],
    }
    const parent: Graph = {
      id: newId("parent"),
      version: 1,
      name: "Parent",
      nodes: [
        {
          id: "agent",
          blockId: "weft/agent/agent-executor",
          inputDefault: { graph_id: "child-agent", graph_version: 1, inputs: { x: "hello" } },
        },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "result" } },
      ],
      links: [{ sourceId: "agent", sourceName: "y", sinkId: "out", sinkName: "value" }],
    }
    const stored = await store((s) => s.create(owner, parent, [child]))
    const runId = newId("parent-run")
    const result = await runtime.runPromise(
      Effect.gen(function* () {
        const graphs = yield* GraphStore
        const { graph: toRun } = yield* graphs.get(owner, stored.id)
        yield* RunQueries.use((q) =>
          q.claim(owner, { runId, graphId: stored.id, graphVersion: stored.version }),
        )
        const executor = Executor.layer().pipe(
          Layer.provide(BlockRegistry.layer([coreBlocks])),
          Layer.provide(Layer.succeed(GraphLoader, graphs.loaderFor(owner, stored))),
          Layer.orDie,
        )
        return yield* Effect.scoped(
          Effect.gen(function* () {
            const exec = yield* Executor
            return yield* (yield* exec.start(toRun, { runId })).await
          }).pipe(Effect.provide(executor)),
        )
      }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ result: ["hello"] })
    const children = await rows<{ owner_id: string; graph_id: string; status: string }>(
      runtime,
      "SELECT owner_id, graph_id, status FROM runs WHERE parent_run_id = $1",
      [runId],
    )
    expect(children).toEqual([{ owner_id: owner, graph_id: "child-agent", status: "COMPLETED" }])
  })

  describe("sharing", () => {
    /** A user with an account: its id is also its name, its email `<id>@example.test`. */
    const account = async (prefix: string) => {
      const id = newId(prefix)
      await rows(runtime, 'INSERT INTO "user" (id, name, email) VALUES ($1, $2, $3)', [
        id,
        `${prefix} name`,
        `${id}@example.test`,
      ])
      return { id, email: `${id}@example.test` }
    }
    /** A graph of a new creator, shared with a new owner, editor and viewer; and a stranger. */
    const team = async () => {
      const creator = await account("creator")
      const owner = await account("owner")
      const editor = await account("editor")
      const viewer = await account("viewer")
      const stranger = await account("stranger")
      const { id } = await store((s) => s.create(creator.id, graph(newId("team"), "Team v1")))
      await store((s) => s.share(creator.id, id, owner.email, "owner"))
      await store((s) => s.share(creator.id, id, editor.email.toUpperCase(), "editor"))
      await store((s) => s.share(owner.id, id, viewer.email, "viewer"))
      return { id, creator, owner, editor, viewer, stranger }
    }

    it("roleOf: the creator is owner, shared users have their role, anyone else and a missing graph none", async () => {
      const t = await team()
      expect(await store((s) => s.roleOf(t.creator.id, t.id))).toBe("owner")
      expect(await store((s) => s.roleOf(t.owner.id, t.id))).toBe("owner")
      expect(await store((s) => s.roleOf(t.editor.id, t.id))).toBe("editor")
      expect(await store((s) => s.roleOf(t.viewer.id, t.id))).toBe("viewer")
      expect(await store((s) => s.roleOf(t.stranger.id, t.id))).toBeUndefined()
      expect(await store((s) => s.roleOf(t.creator.id, newId("missing")))).toBeUndefined()
    })

    it("shares by email in any case, re-sharing changes the role, and lists the creator first", async () => {
      const t = await team()
      expect(await store((s) => s.shares(t.viewer.id, t.id))).toEqual([
        { userId: t.creator.id, email: t.creator.email, name: "creator name", role: "owner", creator: true },
        { userId: t.owner.id, email: t.owner.email, name: "owner name", role: "owner", creator: false },
        { userId: t.editor.id, email: t.editor.email, name: "editor name", role: "editor", creator: false },
        { userId: t.viewer.id, email: t.viewer.email, name: "viewer name", role: "viewer", creator: false },
      ])
      const changed = await store((s) => s.share(t.creator.id, t.id, ` ${t.viewer.email}`.trim(), "editor"))
      expect(changed).toEqual({
        userId: t.viewer.id,
        email: t.viewer.email,
        name: "viewer name",
        role: "editor",
        creator: false,
      })
      expect(await store((s) => s.roleOf(t.viewer.id, t.id))).toBe("editor")
      const stored = await rows(runtime, "SELECT user_id, shared_by FROM graph_shares WHERE graph_id = $1", [
        t.id,
      ])
      expect(stored).toHaveLength(3)
      expect(stored).toContainEqual({ user_id: t.viewer.id, shared_by: t.creator.id })
    })

    it("refuses unknown emails, the creator, yourself, and sharing by non-owners; strangers see no graph", async () => {
      const t = await team()
      const before = await rows(runtime, "SELECT * FROM graph_shares WHERE graph_id = $1 ORDER BY user_id", [
        t.id,
      ])
      const ghost = `${newId("ghost")}@example.test`
      expect(failureOf(await storeExit((s) => s.share(t.creator.id, t.id, ghost, "viewer")))).toMatchObject({
        _tag: "ShareUserNotFound",
        email: ghost,
      })
      expect(
        failureOf(await storeExit((s) => s.share(t.owner.id, t.id, t.creator.email.toUpperCase(), "viewer"))),
      ).toMatchObject({ _tag: "ShareRefused", field: "email" })
      expect(
        failureOf(await storeExit((s) => s.share(t.owner.id, t.id, t.owner.email, "viewer"))),
      ).toMatchObject({
        _tag: "ShareRefused",
        field: "email",
      })
      for (const [who, role] of [
        [t.editor, "editor"],
        [t.viewer, "viewer"],
      ] as const) {
        expect(
          failureOf(await storeExit((s) => s.share(who.id, t.id, t.stranger.email, "viewer"))),
        ).toMatchObject({ _tag: "GraphForbidden", graphId: t.id, role })
      }
      expect(
        failureOf(await storeExit((s) => s.share(t.stranger.id, t.id, t.stranger.email, "owner"))),
      ).toMatchObject({ _tag: "GraphNotFound", graphId: t.id })
      expect(failureOf(await storeExit((s) => s.shares(t.stranger.id, t.id)))).toMatchObject({
        _tag: "GraphNotFound",
        graphId: t.id,
      })
      expect(
        await rows(runtime, "SELECT * FROM graph_shares WHERE graph_id = $1 ORDER BY user_id", [t.id]),
      ).toEqual(before)
    })

    it("every role reads, forks and loads the graph; owners and editors write; viewers get GraphForbidden", async () => {
      const t = await team()
      for (const [who, role] of [
        [t.creator, "owner"],
        [t.owner, "owner"],
        [t.editor, "editor"],
        [t.viewer, "viewer"],
      ] as const) {
        const got = await store((s) => s.get(who.id, t.id))
        expect([got.role, got.graph.id]).toEqual([role, t.id])
        expect((await store((s) => s.versions(who.id, t.id))).length).toBeGreaterThan(0)
        expect((await store((s) => s.list(who.id))).filter((g) => g.id === t.id)).toEqual([
          expect.objectContaining({ id: t.id, role }),
        ])
        const loaded = await runtime.runPromise(
          GraphStore.use((s) => s.loaderFor(who.id, { id: t.id, version: 1 }).load(t.id)),
        )
        expect(loaded.id).toBe(t.id)
        const fork = await store((s) => s.fork(who.id, t.id, 1))
        expect(await store((s) => s.get(who.id, fork.id))).toMatchObject({
          role: "owner",
          forkedFrom: { id: t.id, version: 1 },
        })
        // The fork is the forker's own: the source's creator has no role on it.
        const creatorRole = await store((s) => s.roleOf(t.creator.id, fork.id))
        expect(creatorRole).toBe(who === t.creator ? "owner" : undefined)
      }
      expect(await store((s) => s.newVersion(t.editor.id, t.id, graph(t.id, "By the editor")))).toEqual({
        id: t.id,
        version: 2,
      })
      expect(await store((s) => s.newVersion(t.owner.id, t.id, graph(t.id, "By the owner")))).toEqual({
        id: t.id,
        version: 3,
      })
      await store((s) => s.setActive(t.editor.id, t.id, 2))
      expect(
        failureOf(await storeExit((s) => s.newVersion(t.viewer.id, t.id, graph(t.id, "No")))),
      ).toMatchObject({
        _tag: "GraphForbidden",
        graphId: t.id,
        role: "viewer",
      })
      expect(failureOf(await storeExit((s) => s.setActive(t.viewer.id, t.id, 1)))).toMatchObject({
        _tag: "GraphForbidden",
        role: "viewer",
      })
      expect(failureOf(await storeExit((s) => s.setActive(t.stranger.id, t.id, 1)))).toMatchObject({
        _tag: "GraphNotFound",
      })
      // The viewer changed nothing: version 2 is still active, and there is no version 4.
      expect(await store((s) => s.get(t.creator.id, t.id))).toMatchObject({
        activeVersion: 2,
        versions: [1, 2, 3],
      })
    })

    it("an owner removes anyone but the creator, anyone may leave, and access ends at once", async () => {
      const t = await team()
      expect(failureOf(await storeExit((s) => s.unshare(t.editor.id, t.id, t.viewer.id)))).toMatchObject({
        _tag: "GraphForbidden",
        role: "editor",
      })
      expect(failureOf(await storeExit((s) => s.unshare(t.owner.id, t.id, t.creator.id)))).toMatchObject({
        _tag: "ShareRefused",
        field: "userId",
      })
      expect(failureOf(await storeExit((s) => s.unshare(t.creator.id, t.id, t.creator.id)))).toMatchObject({
        _tag: "ShareRefused",
      })
      expect(failureOf(await storeExit((s) => s.unshare(t.creator.id, t.id, t.stranger.id)))).toMatchObject({
        _tag: "ShareNotFound",
        userId: t.stranger.id,
      })
      expect(failureOf(await storeExit((s) => s.unshare(t.stranger.id, t.id, t.stranger.id)))).toMatchObject({
        _tag: "GraphNotFound",
      })
      // A shared owner removes the editor; the viewer leaves.
      await store((s) => s.unshare(t.owner.id, t.id, t.editor.id))
      await store((s) => s.unshare(t.viewer.id, t.id, t.viewer.id))
      for (const who of [t.editor, t.viewer]) {
        expect(failureOf(await storeExit((s) => s.get(who.id, t.id)))).toMatchObject({
          _tag: "GraphNotFound",
        })
        expect(await store((s) => s.roleOf(who.id, t.id))).toBeUndefined()
        expect((await store((s) => s.list(who.id))).map((g) => g.id)).not.toContain(t.id)
        expect(
          failureOf(await runtime.runPromiseExit(GraphStore.use((s) => s.loaderFor(who.id).load(t.id)))),
        ).toMatchObject({ _tag: "GraphNotFound" })
      }
      expect((await store((s) => s.shares(t.creator.id, t.id))).map((share) => share.userId)).toEqual([
        t.creator.id,
        t.owner.id,
      ])
    })

    // Postgres only: PGlite has one connection, so a second transaction cannot wait on a held lock.
    if (driver === "postgres") {
      it("a share removed while the editor's write waits on the graph's lock refuses that write", async () => {
        const t = await team()
        const write = await runtime.runPromise(
          Effect.gen(function* () {
            const sql = yield* Sql
            const graphs = yield* GraphStore
            const waiting = yield* sql.transaction((tx) =>
              Effect.gen(function* () {
                yield* tx.query("SELECT 1 FROM graphs WHERE id = $1 FOR UPDATE", [t.id])
                const fiber = yield* Effect.forkDetach(
                  Effect.exit(graphs.newVersion(t.editor.id, t.id, graph(t.id, "Too late"))),
                )
                // The write has read nothing yet: it waits for the lock this transaction holds.
                yield* Effect.sleep("300 millis")
                yield* tx.query("DELETE FROM graph_shares WHERE graph_id = $1 AND user_id = $2", [
                  t.id,
                  t.editor.id,
                ])
                return fiber
              }),
            )
            return yield* Fiber.join(waiting)
          }),
        )
        expect(failureOf(write)).toMatchObject({ _tag: "GraphNotFound", graphId: t.id })
        expect((await store((s) => s.get(t.creator.id, t.id))).versions).toEqual([1])
      })
    }

    it("a store without accounts (sign-in off) finds no user to share with, and lists the creator without email", async () => {
      // A second database without the accounts table.
      const bare = await createDatabase(driver)
      const bareRuntime = storesRuntime(bare)
      try {
        const { id } = await bareRuntime.runPromise(
          GraphStore.use((s) => s.create("local", graph(newId("b"), "B"))),
        )
        const exit = await bareRuntime.runPromiseExit(
          GraphStore.use((s) => s.share("local", id, "someone@example.test", "viewer")),
        )
        expect(failureOf(exit)).toMatchObject({ _tag: "ShareUserNotFound", email: "someone@example.test" })
        expect(await bareRuntime.runPromise(GraphStore.use((s) => s.shares("local", id)))).toEqual([
          { userId: "local", role: "owner", creator: true },
        ])
      } finally {
        await bareRuntime.dispose()
        await bare.drop()
      }
    })
  })
})

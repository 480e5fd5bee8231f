/**
 * A `weft worker` process of the Postgres mode: takes `weft_run` jobs with graphile-worker's runner and
 * drives their runs (`RunService.drive`), any number of such processes on any number of machines.
 *
 * Ownership is a lease, not graphile-worker's job lock:
 * - Every worker has an id and writes `weft_workers.heartbeat_at` every `heartbeatInterval`.
 * - A job records a lease (`run_leases (run_id, worker_id)`) and completes at once; the worker then drives the
 *   run until it stops (finished, or paused for a review) and deletes the lease. No job stays locked.
 * - Every `sweepInterval`, each live worker takes over the leases of workers whose heartbeat is older than
 *   `staleAfter` (or whose row is gone) with one `UPDATE … RETURNING` over `FOR UPDATE SKIP LOCKED` rows, so
 *   exactly one worker wins a given run, and resumes those runs from the store: finished node executions are
 *   kept, unfinished ones run again. A slow worker that still heartbeats keeps its runs.
 * - `close()` (SIGTERM/SIGINT) takes no new job, interrupts the runs without cancelling them, then deletes
 *   its leases and re-enqueues their jobs in one transaction, so another worker resumes them at once.
 *
 * @since 0.1.0
 */
import { hostname } from "node:os"
import { Cause, Context, Duration, Effect, Exit, Fiber, Layer, Schedule, Scope } from "effect"
import { type Runner, run as runGraphile } from "graphile-worker"
import { CredentialStore } from "./credentials/CredentialStore.js"
import type { CredentialKeyOptions } from "./credentials/Keys.js"
import { runServiceLayer } from "./credentials/resolver.js"
import { GraphStore } from "./GraphStore.js"
import * as Migrations from "./Migrations.js"
import { graphileLogger } from "./ops/GraphileLog.js"
import * as Logging from "./ops/Logging.js"
import { type OpsServer, type OpsServerOptions, startOpsServer } from "./ops/OpsServer.js"
import { addJob, migrate, RunQueue, TASK } from "./Queue.js"
import { RunQueries } from "./RunQueries.js"
import { RunService, type RunServiceOptions } from "./RunService.js"
import { Sql } from "./Sql.js"
import * as ScheduleJobs from "./triggers/schedules/ScheduleJobs.js"
import { Scheduler, type SchedulerOptions } from "./triggers/schedules/Scheduler.js"
import * as Triggers from "./triggers/schedules/Triggers.js"

/**
 * How to start a worker.
 *
 * @category models
 */
export interface WorkerOptions {
  /** The Postgres database of the host. */
  readonly databaseUrl: string
  /** At most this many runs driven at once by this worker (graphile-worker's `concurrentJobs` too). Default 10. */
  readonly concurrency?: number
  /** How often the heartbeat is written. Default 5 s. */
  readonly heartbeatInterval?: Duration.Input
  /** A worker whose heartbeat is older than this is dead: its runs are taken over. Default 30 s. */
  readonly staleAfter?: Duration.Input
  /** How often this worker looks for runs of dead workers. Default: the heartbeat interval. */
  readonly sweepInterval?: Duration.Input
  /** How often graphile-worker polls for jobs besides LISTEN. Default 2 s. */
  readonly pollInterval?: Duration.Input
  /** This worker's id. Default: `<hostname>-<pid>-<random>`. */
  readonly id?: string
  /** Blocks, resources and credentials of the executor. */
  readonly runs?: RunServiceOptions
  /** Schedules (their `weft_schedule` jobs): the clock, and when an interrupted fire is started again. */
  readonly schedules?: SchedulerOptions
  /**
   * The key that opens stored credentials for runs (`WEFT_CREDENTIALS_KEY`), and previous keys; the same as
   * the host's. Without one, blocks with credential fields fail (`weft worker` refuses to start without it).
   */
  readonly credentials?: CredentialKeyOptions
  /** Structured logs (`ops/Logging.ts`), graphile-worker's included. Default: effect's default logger. */
  readonly logging?: Logging.LoggingOptions
  /** Serve `/metrics`, `/healthz` and `/readyz` on this port (`ops/OpsServer.ts`). Default: none. */
  readonly ops?: OpsServerOptions
}

/**
 * A running worker.
 *
 * @category models
 */
export interface RunningWorker {
  readonly id: string
  /** The runs this worker drives now. */
  readonly held: () => ReadonlyArray<string>
  /** The base URL of its operations listener, when `ops` was given. */
  readonly opsUrl?: string
  /**
   * Graceful shutdown: no new job, runs interrupted without cancelling them, leases released and jobs
   * re-enqueued for another worker, then the database closed.
   */
  readonly close: () => Promise<void>
}

const seconds = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input)) / 1000

const causeMessage = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

/**
 * Starts a worker: migrations (Weft's and graphile-worker's), its heartbeat, the sweep, and the job runner.
 *
 * @category constructors
 */
export const startWorker = async (options: WorkerOptions): Promise<RunningWorker> => {
  const id = options.id ?? `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`
  const concurrency = Math.max(1, options.concurrency ?? 10)
  const heartbeatInterval = options.heartbeatInterval ?? Duration.seconds(5)
  const staleSeconds = seconds(options.staleAfter ?? Duration.seconds(30))
  const sweepInterval = options.sweepInterval ?? heartbeatInterval
  const pollMillis = Duration.toMillis(Duration.fromInputUnsafe(options.pollInterval ?? Duration.seconds(2)))

  // Three scopes, closed in reverse: the database; the run service (executor); the loops and drivers.
  const dbScope = Effect.runSync(Scope.make())
  const runScope = Effect.runSync(Scope.make())
  const loopScope = Effect.runSync(Scope.make())
  /** Effects run outside the layers log through the configured logger too. */
  const logged = Logging.provide(options.logging)
  const closeAll = () =>
    Effect.runPromise(
      Effect.andThen(
        Effect.andThen(Scope.close(loopScope, Exit.void), Scope.close(runScope, Exit.void)),
        Scope.close(dbScope, Exit.void),
      ),
    )

  const started = await Effect.runPromiseExit(
    Effect.gen(function* () {
      const dbContext = yield* Layer.buildWithScope(
        Layer.provideMerge(
          Migrations.layer,
          Sql.layerPostgres(options.databaseUrl, { applicationName: "weft-worker" }),
        ),
        dbScope,
      )
      yield* migrate(options.databaseUrl)
      const stores = Layer.mergeAll(
        GraphStore.layer,
        RunQueries.layer,
        CredentialStore.layer(options.credentials ?? {}),
      )
      const runContext = yield* Layer.buildWithScope(
        Triggers.layer({ ...options.schedules, timer: false }).pipe(
          // Runs that schedules start are enqueued, for any worker to take like the host's starts.
          Layer.provideMerge(
            runServiceLayer({ ...options.runs, serveEvents: false }).pipe(
              Layer.provideMerge(RunQueue.layer(options.databaseUrl)),
            ),
          ),
          Layer.provide(stores),
          Layer.provide(Layer.succeedContext(dbContext)),
        ),
        runScope,
      )
      return {
        sql: Context.get(dbContext, Sql),
        runs: Context.get(runContext, RunService),
        scheduler: Context.get(runContext, Scheduler),
      }
    }).pipe(logged),
  )
  if (Exit.isFailure(started)) {
    await closeAll()
    throw new Error(`The worker did not start: ${causeMessage(started.cause)}`)
  }
  const { sql, runs, scheduler } = started.value
  const sqlRun = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect)

  /** Runs this worker drives now, with their drivers (forked into `loopScope`). */
  const held = new Map<string, Fiber.Fiber<void, unknown>>()
  /** Runs whose lease a job is taking now: they count against the concurrency before they are held. */
  const taking = new Set<string>()
  /** Slots a sweep keeps for the runs it is taking over, until it holds them. */
  let reserved = 0
  const room = () => concurrency - held.size - taking.size - reserved
  /**
   * Jobs waiting for a free slot. A job only takes a lease and returns, so graphile-worker fetches the next
   * one at once: when this worker is full, the job waits (at most `slotWait`) for a run to end rather than
   * going back to the queue to be found again by the next poll.
   */
  const slotWaiters: Array<() => void> = []
  const slotFreed = () => slotWaiters.shift()?.()
  const slotWait = Math.min(10_000, (staleSeconds * 1000) / 3)
  const waitForSlot = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const at = slotWaiters.indexOf(wake)
        if (at >= 0) slotWaiters.splice(at, 1)
        resolve()
      }, slotWait)
      const wake = () => {
        clearTimeout(timer)
        resolve()
      }
      slotWaiters.push(wake)
    })
  let stopping = false

  const beat = sql.query(
    `INSERT INTO weft_workers (id, hostname, pid) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
    [id, hostname(), process.pid],
  )
  await sqlRun(beat)
  const heartbeatMillis = Duration.toMillis(Duration.fromInputUnsafe(heartbeatInterval))
  /** When the last heartbeat was written: past `fenceAfter`, other workers may have taken our runs over. */
  let lastBeat = Date.now()
  const fenceAfter = Math.max(heartbeatMillis, staleSeconds * 1000 - heartbeatMillis)

  /**
   * Stops driving a run without cancelling it, and keeps its lease: the run was taken over by another
   * worker, or this one cannot reach the database and will be taken over.
   */
  const letGo = (runId: string, why: string) =>
    Effect.gen(function* () {
      const driver = held.get(runId)
      if (driver === undefined) return
      held.delete(runId)
      yield* Fiber.interrupt(driver)
      yield* runs.release(runId)
      yield* Effect.logWarning(`worker ${id}: stopped driving run ${runId}: ${why}`).pipe(
        Effect.annotateLogs({ runId, workerId: id }),
      )
    })

  /**
   * Self-fencing, on every heartbeat: a run this worker drives whose lease is no longer its own was taken
   * over (this worker was thought dead), so it stops driving it; a lease still its own whose driver it let
   * go (it could not reach the database for a while) is driven again.
   */
  const heartbeat = Effect.gen(function* () {
    const beaten = yield* Effect.result(beat)
    if (beaten._tag === "Failure") {
      if (Date.now() - lastBeat > fenceAfter) {
        for (const runId of [...held.keys()]) yield* letGo(runId, "no heartbeat could be written")
      }
      return yield* Effect.fail(beaten.failure)
    }
    lastBeat = Date.now()
    // Only a lease that another worker now holds is lost. A run held here whose lease row is missing is one
    // that just ended (its lease is deleted before its driver lets go of the slot), or one taken a moment
    // after a snapshot: both are this worker's.
    const driving = [...held.keys()]
    if (driving.length > 0) {
      const lost = yield* sql.query<{ run_id: string }>(
        `SELECT run_id FROM run_leases
         WHERE run_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND worker_id <> $2`,
        [Sql.json(driving), id],
      )
      for (const row of lost) yield* letGo(row.run_id, "its lease was taken over by another worker")
    }
    const leases = yield* sql.query<{ run_id: string }>(
      "SELECT run_id FROM run_leases WHERE worker_id = $1",
      [id],
    )
    for (const runId of leases.map((row) => row.run_id)) {
      if (held.has(runId) || taking.has(runId)) continue
      // A lease still ours whose driver was let go: drive it again, or hand it to another worker when full.
      if (room() > 0) hold(runId)
      else yield* handBackLease(runId, 0)
    }
  })

  /**
   * Gives up the lease of a run this worker does not drive, and queues it for any worker. A lease already
   * gone (the run ended since the leases were read) queues nothing.
   */
  const handBackLease = (runId: string, delayMs: number) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const released = yield* tx.query(
          "DELETE FROM run_leases WHERE run_id = $1 AND worker_id = $2 RETURNING run_id",
          [runId, id],
        )
        if (released.length > 0) yield* addJob(tx, runId, delayMs)
      }),
    )

  const release = (runId: string) =>
    sql.query("DELETE FROM run_leases WHERE run_id = $1 AND worker_id = $2", [runId, id])

  /** Drives a run whose lease this worker holds; releases the lease when the run stops. */
  const hold = (runId: string) => {
    if (held.has(runId) || stopping) return
    const driver = runs.drive(runId).pipe(
      Effect.matchCauseEffect({
        onSuccess: () => release(runId),
        onFailure: (cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.void
            : Effect.andThen(
                Effect.logWarning(`worker ${id}: run ${runId} failed to drive: ${causeMessage(cause)}`),
                // Hand it back, to be tried again shortly (by any worker).
                handBackLease(runId, 2000),
              ),
      }),
      Effect.catchCause((cause) =>
        Effect.logWarning(`worker ${id}: lease of ${runId}: ${causeMessage(cause)}`),
      ),
      Effect.annotateLogs({ runId, workerId: id }),
    )
    let fiber: Fiber.Fiber<void, unknown> | undefined
    fiber = Effect.runSync(
      logged(
        Effect.forkIn(
          Effect.asVoid(driver).pipe(
            Effect.ensuring(
              Effect.sync(() => {
                if (held.get(runId) === fiber) held.delete(runId)
                slotFreed()
              }),
            ),
          ),
          loopScope,
        ),
      ),
    )
    held.set(runId, fiber)
  }

  /** Takes the lease of a run for this job: free, already ours, or held by a dead worker. */
  const takeLease = (runId: string) =>
    sql.query<{ run_id: string }>(
      `INSERT INTO run_leases (run_id, worker_id) VALUES ($1, $2)
       ON CONFLICT (run_id) DO UPDATE SET worker_id = EXCLUDED.worker_id, acquired_at = now()
       WHERE run_leases.worker_id = EXCLUDED.worker_id OR NOT EXISTS (
         SELECT 1 FROM weft_workers w
         WHERE w.id = run_leases.worker_id AND w.heartbeat_at >= now() - make_interval(secs => $3::float8))
       RETURNING run_id`,
      [runId, id, staleSeconds],
    )

  /**
   * A `weft_run` job is held only while it takes a lease (or waits for a slot, at most `slotWait`), so one
   * locked for longer than the stale threshold belongs to a worker that died holding it: unlock it, so that
   * its run is not left for graphile-worker's 4-hour lock expiry.
   */
  const unlockDeadJobs = sql.query(
    `SELECT graphile_worker.force_unlock_workers(array_agg(DISTINCT locked_by))
     FROM graphile_worker.jobs
     WHERE task_identifier = $1 AND locked_by IS NOT NULL
       AND locked_at < now() - make_interval(secs => $2::float8)
     HAVING count(*) > 0`,
    [TASK, staleSeconds],
  )

  /** Takes over the runs of dead workers, at most as many as this worker has room for. */
  const sweep = Effect.gen(function* () {
    // Independent of the takeover below: a failure here must not keep dead workers' runs from moving.
    yield* unlockDeadJobs.pipe(
      Effect.catchCause((cause) => Effect.logWarning(`worker ${id}: unlocking jobs: ${causeMessage(cause)}`)),
    )
    const free = room()
    if (stopping || free <= 0) return
    // The slots are kept while the query runs: jobs taking leases meanwhile must not use them too.
    reserved += free
    const taken = yield* sql
      .query<{ run_id: string }>(
        `UPDATE run_leases l SET worker_id = $1, acquired_at = now()
       FROM (
         SELECT s.run_id FROM run_leases s LEFT JOIN weft_workers w ON w.id = s.worker_id
         WHERE s.worker_id <> $1
           AND (w.id IS NULL OR w.heartbeat_at < now() - make_interval(secs => $2::float8))
         ORDER BY s.acquired_at
         LIMIT $3
         FOR UPDATE OF s SKIP LOCKED
       ) dead
       WHERE l.run_id = dead.run_id
       RETURNING l.run_id`,
        [id, staleSeconds, free],
      )
      .pipe(
        Effect.onError(() =>
          Effect.sync(() => {
            reserved -= free
          }),
        ),
      )
    // In one step, so the slots pass straight from the reservation to the runs taken over.
    yield* Effect.sync(() => {
      reserved -= free
      for (const row of taken) hold(row.run_id)
    })
    for (const row of taken) {
      yield* Effect.logInfo(`worker ${id}: took over run ${row.run_id}`).pipe(
        Effect.annotateLogs({ runId: row.run_id, workerId: id }),
      )
    }
  })

  const loop = (effect: Effect.Effect<unknown, unknown>, every: Duration.Input) =>
    Effect.runSync(
      logged(
        Effect.forkIn(
          effect.pipe(
            Effect.catchCause((cause) => Effect.logWarning(`worker ${id}: ${causeMessage(cause)}`)),
            Effect.repeat(Schedule.spaced(every)),
          ),
          loopScope,
        ),
      ),
    )
  loop(heartbeat, heartbeatInterval)
  loop(sweep, sweepInterval)
  // Schedules: every one gets a job now, and the sweep re-adds the jobs of those overdue past the threshold.
  await sqlRun(scheduler.sweep()).catch((error: unknown) => {
    process.stderr.write(`worker ${id}: schedule jobs: ${String(error)}\n`)
  })
  loop(scheduler.sweep(staleSeconds * 1000), sweepInterval)

  const handBack = (runId: string, delayMs: number) => sql.transaction((tx) => addJob(tx, runId, delayMs))

  let runner: Runner
  try {
    runner = await runGraphile({
      preset: {
        worker: {
          connectionString: options.databaseUrl,
          concurrentJobs: concurrency,
          pollInterval: pollMillis,
        },
      },
      noHandleSignals: true,
      ...(options.logging === undefined ? {} : { logger: graphileLogger(options.logging) }),
      taskList: {
        [TASK]: async (payload) => {
          const runId = (payload as { readonly runId?: unknown } | null)?.runId
          if (typeof runId !== "string") return
          // Stopping, or full: the job goes back to the queue (a new job with the same key).
          if (stopping) return sqlRun(handBack(runId, 0))
          if (held.has(runId) || taking.has(runId)) return
          // The slot is reserved before the lease is taken: jobs run concurrently, and each must count.
          if (room() <= 0) await waitForSlot()
          if (stopping) return sqlRun(handBack(runId, 0))
          if (room() <= 0 || held.has(runId) || taking.has(runId)) return sqlRun(handBack(runId, 1000))
          taking.add(runId)
          try {
            const took = await sqlRun(takeLease(runId))
            // Another live worker drives it: this job is a duplicate.
            if (took.length > 0) hold(runId)
          } finally {
            taking.delete(runId)
            if (!held.has(runId)) slotFreed()
          }
        },
        [ScheduleJobs.TASK]: async (payload) => {
          const scheduleId = ScheduleJobs.scheduleIdOf(payload)
          if (scheduleId !== undefined) await sqlRun(scheduler.runJob(scheduleId))
        },
      },
    })
  } catch (error) {
    await closeAll()
    throw error
  }

  let ops: OpsServer | undefined
  if (options.ops !== undefined) {
    try {
      ops = await startOpsServer(options.ops, {
        sql,
        queue: "workers",
        stopping: () => stopping,
        gauges: () => [
          {
            name: "weft_worker_runs_held",
            help: "Runs this worker drives now",
            type: "gauge",
            samples: [{ labels: { worker: id }, value: held.size }],
          },
          {
            name: "weft_worker_concurrency",
            help: "Runs this worker may drive at once",
            type: "gauge",
            samples: [{ labels: { worker: id }, value: concurrency }],
          },
        ],
        run: (effect) => Effect.runPromise(logged(effect)),
      })
    } catch (error) {
      stopping = true
      await runner.stop()
      await closeAll()
      throw error
    }
  }

  let closing: Promise<void> | undefined
  const close = async () => {
    stopping = true
    // Jobs waiting for a slot go back to the queue at once.
    for (const wake of slotWaiters.splice(0)) wake()
    await ops?.close()
    // No new job; the jobs in flight end at once (they only take leases).
    await runner.stop()
    // Interrupt the drivers and the loops, then the executor: its runs stop without being cancelled.
    await Effect.runPromise(Scope.close(loopScope, Exit.void))
    await Effect.runPromise(Scope.close(runScope, Exit.void))
    // Nothing of this worker writes any more: hand its runs to the others.
    await sqlRun(
      sql.transaction((tx) =>
        Effect.gen(function* () {
          const released = yield* tx.query<{ run_id: string }>(
            "DELETE FROM run_leases WHERE worker_id = $1 RETURNING run_id",
            [id],
          )
          for (const row of released) yield* addJob(tx, row.run_id)
          yield* tx.query("DELETE FROM weft_workers WHERE id = $1", [id])
        }),
      ),
    ).catch((error: unknown) => {
      process.stderr.write(`worker ${id}: releasing leases failed: ${String(error)}\n`)
    })
    await Effect.runPromise(Scope.close(dbScope, Exit.void))
  }

  return {
    id,
    held: () => [...held.keys()],
    ...(ops === undefined ? {} : { opsUrl: ops.url }),
    close: () => {
      closing ??= close()
      return closing
    },
  }
}

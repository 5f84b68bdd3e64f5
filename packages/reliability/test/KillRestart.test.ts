import { describe, expect, it } from "@effect/vitest"
import { Client, Job, Worker } from "@effect-faktory/core"
import { NodeTransport, NodeWorker } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Context, Effect, Fiber, Layer, Schedule, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Crash from "./support/crash.js"

// Scenario 1: Faktory and its Redis SIGKILLed and restarted twice on the same data directory
// while a producer pushes 10,000 jobs and a worker (NodeWorker.layer) runs them. The producer
// retries a push that fails with a ConnectionError, with the same jid, until the server
// acknowledges it; the handler records every jid it runs.
//
// What the client can guarantee depends on what the server keeps. Faktory's own Redis
// configuration snapshots to disk at most every 30 s and has no append-only file, so a SIGKILL
// loses what the server acknowledged since: that is measured (second test), not asserted. With
// Redis syncing every write before it replies (first test), the assertion is the client's:
// every acknowledged job runs, or is held reserved by the server for a FETCH whose reply the
// crash cut off (it runs again when the reservation expires, 30 min by default, past this
// test), or was lost inside the server's FETCH, and the worker comes back by itself.
//
// Faktory's FETCH is two Redis commands: RPOP from the queue, then ZADD to the working set. A
// SIGKILL between them loses the job on the server (seen in about 1 run in 10, one job). Such a
// job is recognised in Redis's append-only file (popped, never reserved, in the last commands
// before Redis started again) and counted apart; any other acknowledged job that did not run
// fails the test. With RELIABILITY_KEEP_DATA=1 the test keeps the server's data (the
// append-only file records every command that touched each job) under /tmp/reliability-crash-*.

const JOBS = 10_000
const QUEUE = "crash-q"
/** Acknowledged pushes at which the server is killed. */
const KILL_AT = [2_500, 6_000] as const
const DOWN_MILLIS = 1000

const Durable = Job.define("Durable", { args: Schema.Tuple(Schema.Number), queue: QUEUE })

interface Run {
  readonly acknowledgedAt: Map<string, number>
  /** Failed attempts of each push that needed more than one, with when each failed. */
  readonly failedAttempts: Map<string, Array<string>>
  readonly runs: Map<string, number>
  readonly kills: Array<{ readonly at: number; readonly restartedAt: number; readonly acknowledged: number; readonly run: number }>
  pushRetries: number
  readonly pushErrors: Map<string, number>
  pushSlowestMillis: number
  pushedMillis: number
  drainedMillis: number
  recoveredMillis: Array<number>
}

const workload = Effect.gen(function*() {
  const server = yield* FaktoryServer.FaktoryServer
  const started = Date.now()
  const state: Run = {
    acknowledgedAt: new Map(),
    failedAttempts: new Map(),
    runs: new Map(),
    kills: [],
    pushRetries: 0,
    pushErrors: new Map(),
    pushSlowestMillis: 0,
    pushedMillis: 0,
    drainedMillis: 0,
    recoveredMillis: []
  }
  const producer = yield* Client.make({ ...server.clientOptions, poolSize: 4 }).pipe(Effect.provide(NodeTransport.layer))
  const workerContext = yield* Layer.build(
    NodeWorker.layer({ queues: [QUEUE], concurrency: 10, heartbeatInterval: "1 second", shutdownTimeout: "2 seconds", client: server.clientOptions })
      .pipe(Layer.provide(Durable.handle((_, job) =>
        // 10 ms a job, 10 at once: at most 1,000 jobs a second, slower than the producers, so
        // the server holds a backlog when it is killed.
        Effect.sync(() => state.runs.set(job.jid, (state.runs.get(job.jid) ?? 0) + 1)).pipe(Effect.delay("10 millis"))
      )))
  )
  const worker = Context.get(workerContext, Worker.Worker)

  const pushOne = (i: number) =>
    Effect.gen(function*() {
      const jid = `crash-${String(i).padStart(6, "0")}`
      const began = Date.now()
      yield* producer.push({ jid, jobtype: "Durable", queue: QUEUE, args: [i] }).pipe(
        Effect.tapError((error) =>
          Effect.sync(() => {
            state.pushRetries++
            const key = `${error._tag}${"reason" in error ? `/${error.reason}` : ""}`
            state.pushErrors.set(key, (state.pushErrors.get(key) ?? 0) + 1)
            state.failedAttempts.set(jid, [...(state.failedAttempts.get(jid) ?? []), `${key} at ${Date.now() - started} ms`])
          })
        ),
        Effect.retry({ while: (error) => error._tag === "ConnectionError", schedule: Schedule.spaced("100 millis").pipe(Schedule.upTo("60 seconds")) })
      )
      state.pushSlowestMillis = Math.max(state.pushSlowestMillis, Date.now() - began)
      state.acknowledgedAt.set(jid, Date.now())
    })

  // Four producers, each pushing its share one job at a time (concurrent pushes travel together).
  const producing = yield* Effect.fork(
    Effect.forEach([0, 1, 2, 3], (p) =>
      Effect.forEach(Array.from({ length: JOBS / 4 }, (_, k) => p + 4 * k), pushOne, { discard: true }), {
      concurrency: 4,
      discard: true
    }).pipe(Effect.tap(() => Effect.sync(() => (state.pushedMillis = Date.now() - started))))
  )

  const waitUntil = (condition: () => boolean, what: string, seconds: number) =>
    Effect.suspend(() => (condition() ? Effect.void : Effect.fail(what))).pipe(
      Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
      Effect.orDie
    )

  for (const threshold of KILL_AT) {
    yield* waitUntil(() => state.acknowledgedAt.size >= threshold, `${threshold} acknowledged pushes`, 60)
    const at = Date.now()
    const run = state.runs.size
    const acknowledged = state.acknowledgedAt.size
    yield* Crash.killHard(server)
    yield* Effect.sleep(DOWN_MILLIS)
    yield* server.start
    const restartedAt = Date.now()
    state.kills.push({ at, restartedAt, acknowledged, run })
    // Recovered: the worker runs a job it had not run before the restart.
    const ranBefore = state.runs.size
    yield* waitUntil(() => state.runs.size > ranBefore, "the worker to run a job after the restart", 30)
    state.recoveredMillis.push(Date.now() - restartedAt)
  }
  yield* Fiber.join(producing)

  // The worker drains what the server still has; the jobs it will never see (reserved by a
  // FETCH the crash cut off, or lost by the server) leave the count unmoved: stop after 8 s of that.
  let last = -1
  let still = Date.now()
  yield* waitUntil(() => {
    const missing = [...state.acknowledgedAt.keys()].filter((jid) => !state.runs.has(jid)).length
    if (missing !== last) {
      last = missing
      still = Date.now()
    }
    return missing === 0 || Date.now() - still > 8000
  }, "the worker to drain the queue", 120)
  state.drainedMillis = Date.now() - started
  const info = yield* producer.info
  const reserved = Crash.reservations(server.directory)
  const workerState = yield* worker.state
  const missing = [...state.acknowledgedAt.keys()].filter((jid) => !state.runs.has(jid))
  if (missing.length > 0) {
    console.log(`[crash] ${missing.length} acknowledged jobs not run: ${missing.slice(0, 10).map((jid) =>
      `${jid} acknowledged at ${(state.acknowledgedAt.get(jid) ?? 0) - started} ms after failed attempts ${JSON.stringify(state.failedAttempts.get(jid) ?? [])}`
    ).join("; ")}; reserved ${JSON.stringify(reserved.map((entry) => [entry.jid, entry.reservedAt - started]))}; ` +
      `kills at ${state.kills.map((kill) => `${kill.at - started}–${kill.restartedAt - started}`).join(", ")} ms`)
    if (process.env.RELIABILITY_KEEP_DATA === "1") {
      const kept = Path.join(Os.tmpdir(), `reliability-crash-${process.pid}-${Date.now()}`)
      Fs.cpSync(Path.join(server.directory, "db"), kept, { recursive: true, filter: (source) => !source.endsWith(".sock") })
      console.log(`[crash] the server's data is kept in ${kept}`)
    }
  }
  const cutFetches = Crash.appendOnly(server.directory) ? Crash.poppedButNeverReserved(server.directory, QUEUE) : undefined
  return { state, info, reserved, workerState, processed: worker.processed(), cutFetches }
})

const report = (name: string, result: Effect.Effect.Success<typeof workload>) => {
  const { cutFetches, info, processed, reserved, state, workerState } = result
  const missing = [...state.acknowledgedAt.keys()].filter((jid) => !state.runs.has(jid))
  const reservedJids = new Set(reserved.map((entry) => entry.jid))
  const lost = missing.filter((jid) => !reservedJids.has(jid))
  // Lost by the server: a FETCH popped the job and the kill came before Faktory reserved it.
  const lostInFetch = lost.filter((jid) => cutFetches?.has(jid) === true)
  const unexplained = lost.filter((jid) => cutFetches?.has(jid) !== true)
  const duplicates = [...state.runs.values()].filter((times) => times > 1).length
  const lastRestart = state.kills.at(-1)?.restartedAt ?? 0
  const lostAfterLastRestart = lost.filter((jid) => (state.acknowledgedAt.get(jid) ?? 0) > lastRestart)
  const lostBeforeFirstKill = lost.filter((jid) => (state.acknowledgedAt.get(jid) ?? 0) < (state.kills[0]?.at ?? 0))
  const line = `[crash] ${name}: ${JOBS} pushed (${state.pushRetries} push attempts failed and were retried: ` +
    `${JSON.stringify(Object.fromEntries(state.pushErrors))}; slowest push ${state.pushSlowestMillis} ms), ` +
    `${state.acknowledgedAt.size} acknowledged, ${state.runs.size} distinct run (${processed.acked} ACKed by the worker), ` +
    `${duplicates} run twice or more; ${missing.length} acknowledged but not run: ${reserved.length} held reserved by the server, ` +
    `${lost.length} lost (${lostBeforeFirstKill.length} acknowledged before the first kill, ${lostAfterLastRestart.length} after the last restart` +
    `${cutFetches === undefined ? "" : `; ${lostInFetch.length} of them popped by a FETCH the kill cut before Faktory reserved them, ${unexplained.length} otherwise`}); ` +
    `kills ${JSON.stringify(state.kills.map((kill) => ({ acknowledged: kill.acknowledged, run: kill.run, downMillis: kill.restartedAt - kill.at })))}, ` +
    `worker running again ${state.recoveredMillis.join(" and ")} ms after each restart; ` +
    `all pushed after ${state.pushedMillis} ms, done after ${state.drainedMillis} ms; server: queue ${info.faktory.queues[QUEUE] ?? 0}, ` +
    `sets ${JSON.stringify(info.faktory.sets)}; worker ${workerState}`
  console.log(line)
  return { line, missing, lost, lostAfterLastRestart, reserved, duplicates, unexplained }
}

describe("Faktory and its Redis killed with SIGKILL twice, mid-run", () => {
  it.live("Redis syncing every write: every acknowledged job runs or is held reserved by the server; the worker recovers by itself", () =>
    Effect.gen(function*() {
      yield* Crash.durableRedis
      const server = yield* FaktoryServer.make({ webUi: false })
      expect(Crash.appendOnly(server.directory)).toBe(true)
      const result = yield* workload.pipe(Effect.provideService(FaktoryServer.FaktoryServer, server))
      const { line, reserved, unexplained } = report("Redis with appendfsync always", result)
      expect(result.state.kills, line).toHaveLength(2)
      expect(result.state.acknowledgedAt.size, line).toBe(JOBS)
      expect(result.cutFetches, "the append-only file could be read").toBeDefined()
      expect(unexplained.slice(0, 5), line).toEqual([])
      // An acknowledged job that never ran but is held reserved was FETCHed in the last moments
      // before a kill: a FETCH the crash cut off. One reserved later would be a job the worker
      // received and dropped. (Reservations of jobs that did run are stale entries the server
      // keeps when one jid was queued twice, by a push retried after its first attempt landed.)
      const missing = new Set(result.state.acknowledgedAt.keys())
      for (const jid of result.state.runs.keys()) missing.delete(jid)
      for (const entry of reserved.filter((one) => missing.has(one.jid))) {
        expect(result.state.kills.some((kill) => entry.reservedAt <= kill.at + 1000 && entry.reservedAt >= kill.at - 5000), `${entry.jid} reserved at ${new Date(entry.reservedAt).toISOString()}; ${line}`).toBe(true)
      }
      // At most one cut-off FETCH per processor per kill.
      expect(reserved.filter((one) => missing.has(one.jid)).length, line).toBeLessThanOrEqual(2 * 10)
      expect(result.workerState).toBe("running")
    }).pipe(Effect.scoped), 200_000)

  it.live("Faktory's own Redis configuration (snapshots only): what the crash loses is measured; nothing pushed after the last restart is lost", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      expect(Crash.appendOnly(server.directory)).toBe(false)
      const result = yield* workload.pipe(Effect.provideService(FaktoryServer.FaktoryServer, server))
      const { line, lostAfterLastRestart } = report("Faktory's Redis defaults (RDB snapshots)", result)
      expect(result.state.kills, line).toHaveLength(2)
      expect(result.state.acknowledgedAt.size, line).toBe(JOBS)
      expect(lostAfterLastRestart.slice(0, 5), line).toEqual([])
      expect(result.workerState).toBe("running")
    }).pipe(Effect.scoped), 200_000)
})

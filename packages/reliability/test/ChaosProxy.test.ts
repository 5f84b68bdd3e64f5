import { describe, expect, it } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Cause, Chunk, Effect, Exit, Option } from "effect"
import * as ChaosProxy from "./support/chaosProxy.js"
import * as Random from "./support/random.js"

// Scenario 2: 10,000 pushes through a proxy that refuses, cuts and stalls connections at random
// (seeded: the seed is printed; RELIABILITY_SEED replays the same decisions). Each push must
// end, within its deadline, either with its jid, which the server then holds, or with a typed
// error, after which the job may or may not be there ("A command that fails with Closed or
// Timeout after it was written may or may not have been carried out", README). Checked on the
// server afterwards, bypassing the proxy, by INFO and by FETCHing every job: no acknowledged
// job missing, no job twice, no job nobody pushed.

const REPLY_TIMEOUT_MILLIS = 1000
const CONNECT_DEADLINE_MILLIS = 3000
/**
 * No push may take longer: a connection may have to be waited for while another opens (one
 * connect deadline), then opened (another), then the reply (one reply timeout); and 2 s of
 * slack for timers on a loaded 2-core machine.
 */
const PUSH_BOUND_MILLIS = 2 * CONNECT_DEADLINE_MILLIS + REPLY_TIMEOUT_MILLIS + 2000

const typedTags = new Set(["ConnectionError", "ProtocolError", "ServerError"])

interface Tally {
  readonly attempted: Set<string>
  readonly acknowledged: Set<string>
  readonly errors: Map<string, number>
  hangs: number
  defects: number
  slowestMillis: number
}

const tally = (): Tally => ({
  attempted: new Set(),
  acknowledged: new Set(),
  errors: new Map(),
  hangs: 0,
  defects: 0,
  slowestMillis: 0
})

/** Runs one push (or bulk push) within PUSH_BOUND_MILLIS and records how it ended. */
const recorded = <A, E extends { readonly _tag: string }>(
  into: Tally,
  jids: ReadonlyArray<string>,
  effect: Effect.Effect<A, E>,
  acknowledgedOf: (value: A) => ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    for (const jid of jids) into.attempted.add(jid)
    const started = Date.now()
    const exit = yield* Effect.exit(effect.pipe(Effect.timeoutFail({ duration: PUSH_BOUND_MILLIS, onTimeout: () => "hang" as const })))
    into.slowestMillis = Math.max(into.slowestMillis, Date.now() - started)
    if (Exit.isSuccess(exit)) {
      for (const jid of acknowledgedOf(exit.value)) into.acknowledged.add(jid)
      return
    }
    if (Chunk.size(Cause.defects(exit.cause)) > 0) {
      into.defects++
      console.log(`[chaos] defect: ${Cause.pretty(exit.cause)}`)
      return
    }
    const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
    if (failure === "hang") {
      into.hangs++
      return
    }
    const key: string = failure === undefined
      ? "interrupted"
      : typedTags.has(failure._tag)
      ? `${failure._tag}${"reason" in failure && typeof failure.reason === "string" ? `/${failure.reason}` : ""}`
      : `untyped ${failure._tag}`
    // Counted in jobs: a failed PUSHB fails all of its jobs.
    into.errors.set(key, (into.errors.get(key) ?? 0) + jids.length)
  })

/** Every job in `queue`, FETCHed over a direct connection; returns how many times each jid came. */
const drain = (client: Client.Service, queue: string) =>
  Effect.gen(function*() {
    const info = yield* client.info
    const size = info.faktory.queues[queue] ?? 0
    const seen = new Map<string, number>()
    yield* Effect.forEach(Array.from({ length: size }), () =>
      Effect.map(client.fetch([queue]), (job) => {
        if (Option.isSome(job)) seen.set(job.value.jid, (seen.get(job.value.jid) ?? 0) + 1)
      }), { concurrency: 8, discard: true })
    const after = yield* client.info
    return { size, seen, left: after.faktory.queues[queue] ?? 0 }
  })

describe("pushes through a proxy that cuts and stalls connections", () => {
  it.live("10,000 pushes (awaited, concurrent, bulk): every acknowledged job is on the server, once; every failure typed; none hangs", () =>
    Effect.gen(function*() {
      const random = Random.fromEnv("chaos proxy")
      const server = yield* FaktoryServer.make({ webUi: false })
      const proxy = yield* ChaosProxy.make(server.port, { random, refuse: 0, cut: 0, stall: 0, stallMillis: [20, 2000] })
      const client = yield* Client.make({
        url: `tcp://127.0.0.1:${proxy.port}`,
        poolSize: 8,
        connectTimeout: "1 second",
        handshakeTimeout: "1 second",
        replyTimeout: `${REPLY_TIMEOUT_MILLIS} millis`,
        connectDeadline: `${CONNECT_DEADLINE_MILLIS} millis`
      }).pipe(Effect.provide(NodeTransport.layer))
      const direct = yield* Client.make({ ...server.clientOptions, poolSize: 8 }).pipe(Effect.provide(NodeTransport.layer))
      const jid = (phase: string, i: number) => `${random.seed.toString(36)}-${phase}-${String(i).padStart(5, "0")}`

      const phases = [
        {
          name: "awaited",
          queue: "chaos-awaited",
          count: 2000,
          // About 4,000 chunks (a command and its reply each).
          chances: { refuse: 0.05, cut: 0.004, stall: 0.003 },
          run: (into: Tally) =>
            Effect.forEach(Array.from({ length: 2000 }, (_, i) => jid("a", i)), (id) =>
              recorded(into, [id], client.push({ jid: id, jobtype: "Chaos", queue: "chaos-awaited", args: [] }), (pushed) => [pushed]), {
              discard: true
            })
        },
        {
          name: "concurrent",
          queue: "chaos-concurrent",
          count: 4000,
          // Pushes travel together as PUSHB: a few hundred chunks.
          chances: { refuse: 0.1, cut: 0.03, stall: 0.03 },
          run: (into: Tally) =>
            Effect.forEach(Array.from({ length: 4000 }, (_, i) => jid("c", i)), (id) =>
              recorded(into, [id], client.push({ jid: id, jobtype: "Chaos", queue: "chaos-concurrent", args: [] }), (pushed) => [pushed]), {
              concurrency: 50,
              discard: true
            })
        },
        {
          name: "bulk",
          queue: "chaos-bulk",
          count: 4000,
          // About 40 PUSHB commands of up to 200 jobs, some in several chunks.
          chances: { refuse: 0.1, cut: 0.1, stall: 0.08 },
          run: (into: Tally) => {
            const batches: Array<Array<string>> = []
            for (let i = 0; i < 4000;) {
              const size = Math.min(4000 - i, random.int(1, 200))
              batches.push(Array.from({ length: size }, (_, k) => jid("b", i + k)))
              i += size
            }
            return Effect.forEach(batches, (ids) =>
              recorded(
                into,
                ids,
                client.pushBulk(ids.map((id) => ({ jid: id, jobtype: "Chaos", queue: "chaos-bulk", args: [] }))),
                (result) => {
                  if (result.rejected.length > 0) into.errors.set("rejected", (into.errors.get("rejected") ?? 0) + result.rejected.length)
                  return result.pushed
                }
              ), { concurrency: 2, discard: true })
          }
        }
      ] as const

      const results: Array<string> = []
      for (const phase of phases) {
        const into = tally()
        const before = { ...proxy.stats }
        const started = Date.now()
        proxy.configure(phase.chances)
        proxy.setEnabled(true)
        yield* phase.run(into)
        proxy.setEnabled(false)
        const millis = Date.now() - started
        const { left, seen, size } = yield* drain(direct, phase.queue)
        const missing = [...into.acknowledged].filter((id) => !seen.has(id))
        const twice = [...seen].filter(([, times]) => times > 1).map(([id]) => id)
        const ghosts = [...seen.keys()].filter((id) => !into.attempted.has(id))
        const failed = [...into.errors.values()].reduce((sum, n) => sum + n, 0)
        const landedAnyway = [...seen.keys()].filter((id) => !into.acknowledged.has(id)).length
        const chaos = {
          connections: proxy.stats.connections - before.connections,
          refused: proxy.stats.refused - before.refused,
          cuts: proxy.stats.cuts - before.cuts,
          stalls: proxy.stats.stalls - before.stalls
        }
        const line = `[chaos] seed ${random.seed} ${phase.name}: ${into.attempted.size} pushed, ${into.acknowledged.size} acknowledged, ` +
          `${failed} failed ${JSON.stringify(Object.fromEntries(into.errors))}, ${landedAnyway} of the failed on the server anyway; ` +
          `server holds ${size} (${seen.size} distinct); missing ${missing.length}, twice ${twice.length}, ghosts ${ghosts.length}; ` +
          `hangs ${into.hangs}, defects ${into.defects}, slowest ${into.slowestMillis} ms; ${millis} ms; proxy ${JSON.stringify(chaos)}`
        console.log(line)
        results.push(line)
        expect(into.attempted.size, line).toBe(phase.count)
        expect(missing.slice(0, 5), line).toEqual([])
        expect(twice.slice(0, 5), line).toEqual([])
        expect(ghosts.slice(0, 5), line).toEqual([])
        expect(into.hangs, line).toBe(0)
        expect(into.defects, line).toBe(0)
        expect([...into.errors.keys()].filter((key) => key.startsWith("untyped") || key === "rejected" || key === "interrupted"), line).toEqual([])
        expect(into.acknowledged.size + failed, line).toBe(phase.count)
        expect(size, line).toBe(seen.size)
        expect(left, line).toBe(0)
        expect(into.slowestMillis, line).toBeLessThanOrEqual(PUSH_BOUND_MILLIS)
        // The chaos happened: otherwise this proves nothing.
        expect(chaos.cuts + chaos.stalls, line).toBeGreaterThan(0)
        expect(failed, line).toBeGreaterThan(0)
      }
    }).pipe(Effect.scoped), 300_000)
})

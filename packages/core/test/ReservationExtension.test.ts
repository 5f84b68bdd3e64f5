import { describe, expect, it, layer } from "@effect/vitest"
import { Client, Job, Tracking, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import { type EnterprisePeer, enterprisePeer } from "./enterprisePeer.js"
import { env, failureOf, startWorker as startWorkerOnServer, waitFor } from "./support.js"

// A job that extends its reservation moves the worker's own reservation guard: it runs past
// the old deadline, while one that does not is interrupted at it; where the server refuses
// the extension (open-source Faktory), the guard keeps its deadline and the error says so.
//
// Reservations are short here: jobs reserved for 60 s (the server's least), and a
// reservationLimit that lets a guarded job run until 59.5 s before its reservation ends, so
// the old deadline falls 500 ms after the start, and an extension to two minutes from now
// moves it a minute later.

const reservationLimit = (seconds: number) => Duration.millis(seconds * 1000 - 59_500)

/** What each job saw: when it ended or was interrupted (ms after its start), its deadlines, the extension's error. */
interface Seen {
  readonly deadlineBefore: Option.Option<Date>
  deadlineAfter?: Option.Option<Date>
  refusal?: string
  interruptedAfter?: number
  finishedAfter?: number
}

/** A handler that asks for two more minutes (when `extend`), then works for 1.5 s. */
const patient = (seen: Map<string, Seen>, extend: boolean) => (_: readonly [], job: { readonly jid: string }) =>
  Effect.gen(function*() {
    const started = Date.now()
    const entry: Seen = { deadlineBefore: yield* Tracking.deadline }
    seen.set(job.jid, entry)
    if (extend) {
      const extended = yield* Effect.either(Tracking.extendReservation("2 minutes"))
      if (extended._tag === "Left") entry.refusal = extended.left.message
      entry.deadlineAfter = yield* Tracking.deadline
    }
    yield* Effect.sleep("1500 millis").pipe(Effect.onInterrupt(() => Effect.sync(() => (entry.interruptedAfter = Date.now() - started))))
    entry.finishedAfter = Date.now() - started
  })

const Extender = Job.define("Extender", { args: Schema.Tuple(), queue: "reserve", reserveFor: 60, retry: 0 })
const Sitter = Job.define("Sitter", { args: Schema.Tuple(), queue: "reserve", reserveFor: 60, retry: 0 })

const workerOn = (peer: EnterprisePeer, seen: Map<string, Seen>) =>
  Worker.make({
    queues: ["reserve"],
    concurrency: 2,
    heartbeatInterval: "1 second",
    shutdownTimeout: "1 second",
    reservationLimit,
    client: { url: peer.url, connectRetry: Schedule.recurs(0) }
  }).pipe(
    Effect.provide(Layer.mergeAll(Extender.handle(patient(seen, true)), Sitter.handle(patient(seen, false)), NodeTransport.layer))
  )

const deadlineOf = (entry: Option.Option<Date>) => Option.getOrThrow(entry).getTime()

describe("extending a reservation against Enterprise (the wire peer)", () => {
  it.live("the job that extends runs past the old deadline; the one that does not is interrupted at it", () =>
    Effect.gen(function*() {
      const peer = yield* enterprisePeer()
      const client = yield* Client.make({ url: peer.url }).pipe(Effect.provide(NodeTransport.layer))
      const seen = new Map<string, Seen>()
      const worker = yield* workerOn(peer, seen)
      const [extender, sitter] = yield* Effect.all([Extender.push([]), Sitter.push([])]).pipe(Effect.provideService(Client.Client, client))
      yield* waitFor("both jobs reported", () => peer.acked.length + peer.failed.length === 2, 10)

      const extended = seen.get(extender)!
      expect(extended.refusal).toBeUndefined()
      expect(extended.interruptedAfter).toBeUndefined()
      expect(extended.finishedAfter).toBeGreaterThanOrEqual(1500)
      expect(peer.acked).toEqual([extender])
      // The guard moved a minute later: the reservation from the start to its new end, less 59.5 s.
      const moved = deadlineOf(extended.deadlineAfter!) - deadlineOf(extended.deadlineBefore)
      expect(moved).toBeGreaterThan(59_000)
      expect(moved).toBeLessThan(61_000)

      const stayed = seen.get(sitter)!
      expect(stayed.interruptedAfter).toBeGreaterThanOrEqual(450)
      expect(stayed.interruptedAfter).toBeLessThan(1200)
      expect(stayed.finishedAfter).toBeUndefined()
      expect(peer.failed).toEqual([{ jid: sitter, errtype: "ReservationExpired", message: "interrupted before its 60 s reservation ran out" }])

      // On the wire: one TRACK SET with reserve_until two minutes ahead, and nothing for the other job.
      const sets = peer.lines.filter((line) => line.startsWith("TRACK SET"))
      expect(sets).toHaveLength(1)
      const update = JSON.parse(sets[0]!.slice("TRACK SET ".length))
      expect(update.jid).toBe(extender)
      expect(Date.parse(update.reserve_until) - Date.now()).toBeGreaterThan(110_000)
      expect(worker.processed()).toEqual({ acked: 1, failed: 1 })
    }).pipe(Effect.scoped))

  it.live("refused by the server: the guard keeps its deadline, the error says so, and the job is interrupted at it", () =>
    Effect.gen(function*() {
      const peer = yield* enterprisePeer({ refuseTrackSet: "tracking subsystem is only available in Faktory Enterprise" })
      const client = yield* Client.make({ url: peer.url }).pipe(Effect.provide(NodeTransport.layer))
      const seen = new Map<string, Seen>()
      yield* workerOn(peer, seen)
      const extender = yield* Extender.push([]).pipe(Effect.provideService(Client.Client, client))
      yield* waitFor("the job reported", () => peer.failed.length === 1, 10)
      const entry = seen.get(extender)!
      expect(entry.deadlineAfter).toEqual(entry.deadlineBefore)
      expect(entry.refusal).toMatch(
        /^extending a job's reservation \(TRACK SET reserve_until\) needs Faktory Enterprise: tracking subsystem is only available in Faktory Enterprise; the reservation was not extended, and the worker still interrupts the job at \d{4}-\d\d-\d\dT[\d:.]+Z, shortly before its reservation runs out$/
      )
      expect(entry.refusal).toContain(Option.getOrThrow(entry.deadlineBefore).toISOString())
      expect(entry.interruptedAfter).toBeGreaterThanOrEqual(450)
      expect(entry.interruptedAfter).toBeLessThan(1200)
      expect(peer.failed).toEqual([{ jid: extender, errtype: "ReservationExpired", message: "interrupted before its 60 s reservation ran out" }])
    }).pipe(Effect.scoped))
})

layer(env(), { excludeTestServices: true, timeout: "60 seconds" })("extending a reservation against open-source Faktory", (it) => {
  it.effect("the real server refuses: the guard keeps its deadline, and the job is interrupted at it", () =>
    Effect.gen(function*() {
      // Retried once, so that its failure can be read back from the retry set.
      const OnOpenSource = Job.define("ExtenderOnOss", { args: Schema.Tuple(), queue: "reserve-oss", reserveFor: 60, retry: 1 })
      const seen = new Map<string, Seen>()
      const worker = yield* startWorkerOnServer(
        { queues: ["reserve-oss"], concurrency: 1, reservationLimit },
        OnOpenSource.handle(patient(seen, true))
      )
      const jid = yield* OnOpenSource.push([])
      yield* waitFor("the job reported", () => worker.processed().failed === 1, 10)
      const entry = seen.get(jid)!
      expect(entry.deadlineAfter).toEqual(entry.deadlineBefore)
      expect(entry.refusal).toContain("tracking subsystem is only available in Faktory Enterprise; the reservation was not extended")
      expect(entry.interruptedAfter).toBeGreaterThanOrEqual(450)
      expect(entry.interruptedAfter).toBeLessThan(1200)
      yield* worker.terminate
      expect(yield* failureOf(jid, "reserve-oss")).toMatchObject({
        errtype: "ReservationExpired",
        message: "interrupted before its 60 s reservation ran out"
      })
    }).pipe(Effect.scoped))
})

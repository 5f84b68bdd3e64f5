import { describe, expect, it, layer } from "@effect/vitest"
import { Client, Job, Worker } from "@effect-faktory/core"
import { TestWorker } from "@effect-faktory/testing"
import { Deferred, Effect, Exit, FiberId, Layer, Schema, Scope, TestClock } from "effect"

// TestWorker.layer is the recipe the testing README shows first: a real worker on a throwaway
// server, inside @effect/vitest's layer() with its default test services (the TestClock), and a
// wait for jobs by jid or count whose timeout says what did not happen. The worker's own timers
// run in real time there; its handlers run on the clock the layer was built with.

class Bounced extends Schema.TaggedError<Bounced>()("Bounced", { to: Schema.String }) {}

const Greet = Job.define("Greet", { args: Schema.Tuple(Schema.String), queue: "tw-main" })
const Mail = Job.define("Mail", { args: Schema.Tuple(Schema.String), queue: "tw-main", retry: 0 })
const Nap = Job.define("Nap", { args: Schema.Tuple(), queue: "tw-main" })

const greeted: Array<string> = []

const napStarted = Deferred.unsafeMake<void>(FiberId.none)

const Handlers = Layer.mergeAll(
  Greet.handle(([name]) => Effect.sync(() => greeted.push(name))),
  Mail.handle(([to]) => (to.endsWith("@invalid") ? new Bounced({ to }) : Effect.void)),
  // Sleeps an hour on the handler's clock: here the TestClock, which the test moves.
  Nap.handle(() => Effect.zipRight(Deferred.succeed(napStarted, undefined), Effect.sleep("1 hour")))
)

/** Real milliseconds `self` took. */
const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const started = Date.now()
    return Effect.map(self, (value) => [value, Date.now() - started] as const)
  })

layer(TestWorker.layer(Handlers, { queues: ["tw-main"], concurrency: 2 }), { timeout: "30 seconds" })(
  "TestWorker.layer under layer() with the default test services (TestClock)",
  (it) => {
    it.effect("runs the jobs, and awaitReported returns their reports in the order of the jids", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ada = yield* Greet.push(["ada"])
        const bounced = yield* Mail.push(["bob@invalid"])
        const unknown = yield* client.push({ jobtype: "Mystery", args: [], queue: "tw-main", retry: 0 })
        const reports = yield* TestWorker.awaitReported({ jids: [unknown, ada, bounced] })
        expect(reports.map((report) => report.jid)).toEqual([unknown, ada, bounced])
        expect(reports[1]).toEqual({ jid: ada, jobtype: "Greet", queue: "tw-main", verb: "ACK", failure: undefined })
        expect(reports[2]).toMatchObject({ verb: "FAIL", failure: { errtype: "Bounced" } })
        expect(reports[0]).toMatchObject({
          jobtype: "Mystery",
          verb: "FAIL",
          failure: { errtype: "UnknownJobType", message: "no handler for jobtype Mystery" }
        })
        expect(greeted).toContain("ada")
        // The worker is in context too.
        expect(yield* (yield* Worker.Worker).state).toBe("running")
      }))

    it.effect("{ count } takes the oldest reports no wait has taken, those of jobs reported before the call included", () =>
      Effect.gen(function*() {
        const first = yield* Greet.push(["first"])
        const second = yield* Greet.push(["second"])
        yield* TestWorker.awaitReported({ jids: [second] })
        // `first` was reported before this call (or is about to be): it is the one left.
        const [report] = yield* TestWorker.awaitReported({ count: 1 })
        expect(report?.jid).toBe(first)
        const all = yield* TestWorker.reports
        expect(all.map((entry) => entry.jid)).toEqual(expect.arrayContaining([first, second]))
      }))

    it.effect("a handler's sleep follows the TestClock: the job is reported once the test moves it", () =>
      Effect.gen(function*() {
        const jid = yield* Nap.push([])
        yield* Deferred.await(napStarted)
        const error = yield* Effect.flip(TestWorker.awaitReported({ jids: [jid] }, { timeout: "300 millis" }))
        expect(error).toMatchObject({ _tag: "NotReportedError", missing: [jid], running: 1, testClock: true })
        expect(error.message).toContain(`within 300ms, 1 of 1 job was not reported: ${jid}`)
        expect(error.message).toContain("1 job is still running on the TestClock (a handler's sleep waits for TestClock.adjust")
        yield* TestClock.adjust("1 hour")
        const [report] = yield* TestWorker.awaitReported({ jids: [jid] })
        expect(report?.verb).toBe("ACK")
      }))

    it.effect("the timeout names the jobs not reported and what was reported instead", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        // A queue the worker does not fetch from.
        const elsewhere = yield* client.push({ jobtype: "Greet", args: ["x"], queue: "tw-elsewhere" })
        const unknown = yield* client.push({ jobtype: "Mystery", args: [], queue: "tw-main", retry: 0 })
        const error = yield* Effect.flip(TestWorker.awaitReported({ jids: [elsewhere, unknown] }, { timeout: "1 second" }))
        expect(error.missing).toEqual([elsewhere])
        expect(error.reported.map((report) => report.jid)).toEqual([unknown])
        expect(error.message).toBe(
          `within 1s, 1 of 2 jobs were not reported: ${elsewhere}; ` +
            `reported and not yet taken: ${unknown} Mystery FAIL UnknownJobType: no handler for jobtype Mystery`
        )
        // Nothing was taken by the failed wait.
        expect((yield* TestWorker.awaitReported({ count: 1 }))[0]?.jid).toBe(unknown)
        const idle = yield* Effect.flip(TestWorker.awaitReported({ count: 1 }, { timeout: "200 millis" }))
        expect(idle.message).toBe(
          "within 200ms, 0 of 1 report came; nothing else was reported; " +
            "the worker fetches from [\"tw-main\"]: was the job pushed to one of those?"
        )
        // Each report is taken once: waiting for it again says where it went.
        const again = yield* Effect.flip(TestWorker.awaitReported({ jids: [unknown] }, { timeout: "200 millis" }))
        expect(again).toMatchObject({ missing: [unknown], takenEarlier: [unknown] })
        expect(again.message).toBe(
          `within 200ms, 1 of 1 job was not reported: ${unknown}; nothing else was reported; ` +
            `an earlier wait took the report of ${unknown}`
        )
      }))
  }
)

const Pause = Job.define("Pause", { args: Schema.Tuple(Schema.Number), queue: "tw-live" })

layer(
  TestWorker.layer(Pause.handle(([millis]) => Effect.sleep(millis)), { queues: ["tw-live"] }),
  { excludeTestServices: true, timeout: "30 seconds" }
)("TestWorker.layer under layer() with excludeTestServices", (it) => {
  it.effect("a handler's sleep passes in real time", () =>
    Effect.gen(function*() {
      const [reports, millis] = yield* timed(Effect.flatMap(Pause.push([50]), (jid) => TestWorker.awaitReported({ jids: [jid] })))
      expect(reports[0]?.verb).toBe("ACK")
      expect(millis).toBeGreaterThanOrEqual(50)
      const error = yield* Effect.flip(
        Effect.flatMap(Pause.push([5000]), (jid) => TestWorker.awaitReported({ jids: [jid] }, { timeout: "200 millis" }))
      )
      expect(error).toMatchObject({ running: 1, testClock: false })
      expect(error.message).toContain("1 job is still running")
      expect(error.message).not.toContain("TestClock")
    }))
})

describe("a TestWorker's layer closing", () => {
  it.effect("under the TestClock, with a handler asleep on it, closes within the shutdown timeout", () =>
    Effect.gen(function*() {
      const asleep = yield* Deferred.make<void>()
      const Stuck = Job.define("Stuck", { args: Schema.Tuple(), queue: "tw-stuck" })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        TestWorker.layer(
          Stuck.handle(() => Effect.zipRight(Deferred.succeed(asleep, undefined), Effect.sleep("1 hour"))),
          { queues: ["tw-stuck"], shutdownTimeout: "1 second" }
        ),
        scope
      )
      yield* Stuck.push([]).pipe(Effect.provide(context))
      yield* Deferred.await(asleep)
      const [, millis] = yield* timed(Scope.close(scope, Exit.void))
      // The shutdown timeout, the FETCH in flight of the other processors (up to 2 s) and a last BEAT.
      expect(millis).toBeLessThan(5000)
    }), 30_000)
})

/**
 * The most common integration test in one line: a real worker running your handlers against a
 * throwaway Faktory server, a `Client` of that server for the test's pushes, and a way to wait
 * until given jobs are reported (ACK or FAIL) rather than polling.
 *
 * ```ts
 * layer(TestWorker.layer(Handlers))("sign-up", (it) => {
 *   it.effect("sends the welcome email", () =>
 *     Effect.gen(function* () {
 *       const jid = yield* SignUp.push({ email: "ada@example.com" })
 *       const [report] = yield* TestWorker.awaitReported({ jids: [jid] })
 *       expect(report?.verb).toBe("ACK")
 *     }))
 * })
 * ```
 *
 * Time: the worker's, client's and server's own timers run on the live clock whatever clock
 * the test has; handlers run on the clock in effect where the layer is built. Under
 * `@effect/vitest`'s `layer(...)` with its default test services that is the `TestClock`: a
 * handler's `Effect.sleep` waits for `TestClock.adjust`. With `excludeTestServices: true` it is
 * the live clock. `awaitReported`'s timeout is always in real time.
 *
 * @since 0.2.0
 */
import type { Client, InvalidUrlError } from "@effect-faktory/core"
import { Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import * as FaktoryServer from "./FaktoryServer.js"

/**
 * The worker's options, for tests: `shutdownTimeout` defaults to 2 s (a job still running when
 * the test's layer closes is interrupted then, rather than after 25 s); `client` adds to the
 * options that reach the server.
 *
 * @since 0.2.0
 * @category models
 */
export interface TestWorkerOptions extends Worker.WorkerOptions {
  /** The throwaway server's options (`layer` only). Default: no Web UI. */
  readonly server?: FaktoryServer.FaktoryServerOptions | undefined
}

/**
 * Which reports to wait for: those of the given jids (in that order), or the next `count`.
 *
 * @since 0.2.0
 * @category models
 */
export type Awaited = { readonly jids: ReadonlyArray<string> } | { readonly count: number }

/**
 * @since 0.2.0
 * @category models
 */
export interface AwaitOptions {
  /** How long to wait, in real time. Default 4 s: inside vitest's default 5 s test timeout, so that this error, which names the jobs, comes first. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * The jobs waited for were not all reported in time. `missing` names the jids not reported
 * (waiting for jids), `wanted` how many reports were waited for; `reported` holds the reports
 * no wait has taken yet (what was reported instead), `running` the jobs running at that moment.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestWorker } from "@effect-faktory/testing"
 *
 * const program = TestWorker.awaitReported({ jids: ["0123456789ab"] }).pipe(
 *   Effect.catchTag("NotReportedError", (error) => Effect.log(error.missing))
 * )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class NotReportedError extends Data.TaggedError("NotReportedError")<{
  readonly timeout: Duration.Duration
  readonly wanted: number
  /** The jids waited for that were not reported (empty when waiting for a count). */
  readonly missing: ReadonlyArray<string>
  /** Those of `missing` whose report an earlier wait took (a wait takes each report once). */
  readonly takenEarlier: ReadonlyArray<string>
  /** Reports that no wait has taken. */
  readonly reported: ReadonlyArray<Worker.Reported>
  /** Jobs running when the wait gave up. */
  readonly running: number
  /** The worker's queues, as given. */
  readonly queues: Worker.Queues
  /** Whether handlers run on a `TestClock`. */
  readonly testClock: boolean
}> {
  override get message(): string {
    const within = `within ${Duration.format(this.timeout)}`
    const head = this.missing.length > 0
      ? `${within}, ${this.missing.length} of ${this.wanted} ${plural(this.wanted, "job was", "jobs were")} not reported: ${
        list(this.missing)
      }`
      : `${within}, ${this.reported.length} of ${this.wanted} ${plural(this.wanted, "report", "reports")} came`
    const instead = this.reported.length === 0
      ? "nothing else was reported"
      : `${this.missing.length > 0 ? "reported and not yet taken" : "they were"}: ${list(this.reported.map(describe))}`
    const running = this.running === 0
      ? ""
      : `; ${this.running} ${plural(this.running, "job is", "jobs are")} still running` +
        (this.testClock
          ? " on the TestClock (a handler's sleep waits for TestClock.adjust; build the layer with excludeTestServices: true for real time)"
          : "")
    const taken = this.takenEarlier.length === 0
      ? ""
      : `; an earlier wait took the report of ${list(this.takenEarlier)}`
    const idle = this.running === 0 && this.reported.length === 0 && this.takenEarlier.length === 0
      ? `; the worker fetches from ${JSON.stringify(this.queues)}: was the job pushed to one of those?`
      : ""
    return `${head}; ${instead}${taken}${running}${idle}`
  }
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many)

const list = (items: ReadonlyArray<string>, most = 10) =>
  items.length <= most ? items.join(", ") : `${items.slice(0, most).join(", ")} and ${items.length - most} more`

const describe = (report: Worker.Reported): string => {
  const failure = report.failure
  if (failure === undefined) return `${report.jid} ${report.jobtype} ACK`
  const message = failure.message.length > 80 ? `${failure.message.slice(0, 80)}…` : failure.message
  return `${report.jid} ${report.jobtype} FAIL ${failure.errtype}: ${message}`
}

/**
 * What the `TestWorker` tag holds.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  readonly worker: Worker.Service
  /**
   * Waits until the jobs are reported and takes their reports: by jid (each jid's oldest report
   * not yet taken, in the order given) or the `count` oldest not yet taken. Reports queue up
   * from the worker's start, so a job reported before the call counts.
   */
  readonly awaitReported: (
    jobs: Awaited,
    options?: AwaitOptions
  ) => Effect.Effect<ReadonlyArray<Worker.Reported>, NotReportedError>
  /** Every report since the worker started, oldest first, taken or not. */
  readonly reports: Effect.Effect<ReadonlyArray<Worker.Reported>>
}

/**
 * The test worker in context (`TestWorker.layer` provides it).
 *
 * @since 0.2.0
 * @category tags
 */
export class TestWorker extends Context.Tag("@effect-faktory/testing/TestWorker")<TestWorker, Service>() {}

/** The wait's own timeout passes in real time, whatever clock the test has. */
const liveClock = Clock.make()

const DEFAULT_TIMEOUT = Duration.seconds(4)

const makeService = (worker: Worker.Service, queues: Worker.Queues, testClock: boolean) =>
  Effect.gen(function*() {
    const incoming = yield* worker.subscribeReports
    const log: Array<{ readonly report: Worker.Reported; taken: boolean }> = []
    // Completed (and replaced) whenever a report is added: waiters look at the log again.
    let added = Deferred.unsafeMake<void>(FiberId.none)
    yield* Effect.forkScoped(Effect.forever(Effect.map(Queue.take(incoming), (report) => {
      log.push({ report, taken: false })
      const waiters = added
      added = Deferred.unsafeMake<void>(FiberId.none)
      Deferred.unsafeDone(waiters, Exit.void)
    })))

    /** The reports wanted, taken, if all are there; undefined otherwise (nothing taken). */
    const take = (jobs: Awaited): ReadonlyArray<Worker.Reported> | undefined => {
      const entries: Array<(typeof log)[number]> = []
      if ("jids" in jobs) {
        for (const jid of jobs.jids) {
          const entry = log.find((candidate) => !candidate.taken && candidate.report.jid === jid && !entries.includes(candidate))
          if (entry === undefined) return undefined
          entries.push(entry)
        }
      } else {
        for (const entry of log) {
          if (entries.length === jobs.count) break
          if (!entry.taken) entries.push(entry)
        }
        if (entries.length < jobs.count) return undefined
      }
      for (const entry of entries) entry.taken = true
      return entries.map((entry) => entry.report)
    }

    const notReported = (jobs: Awaited, timeout: Duration.Duration) => {
      const untaken = log.filter((entry) => !entry.taken).map((entry) => entry.report)
      // A jid given twice wants two reports.
      const available = new Map<string, number>()
      for (const report of untaken) available.set(report.jid, (available.get(report.jid) ?? 0) + 1)
      const missing = "jids" in jobs
        ? jobs.jids.filter((jid) => {
          const left = available.get(jid) ?? 0
          available.set(jid, left - 1)
          return left <= 0
        })
        : []
      const takenEarlier = missing.filter((jid) => log.some((entry) => entry.taken && entry.report.jid === jid))
      return new NotReportedError({
        timeout,
        wanted: "jids" in jobs ? jobs.jids.length : jobs.count,
        missing,
        takenEarlier,
        reported: untaken,
        running: worker.running(),
        queues,
        testClock
      })
    }

    const awaitReported: Service["awaitReported"] = (jobs, options) =>
      Effect.suspend(() => {
        if ("count" in jobs && (!Number.isSafeInteger(jobs.count) || jobs.count < 0)) {
          return Effect.dieMessage(`awaitReported: count must be a whole number from 0, not ${String(jobs.count)}`)
        }
        const timeout = Duration.decode(options?.timeout ?? DEFAULT_TIMEOUT)
        const attempt: Effect.Effect<ReadonlyArray<Worker.Reported>> = Effect.suspend(() => {
          const signal = added
          const got = take(jobs)
          return got !== undefined ? Effect.succeed(got) : Effect.zipRight(Deferred.await(signal), attempt)
        })
        return attempt.pipe(
          Effect.timeoutFail({ duration: timeout, onTimeout: () => notReported(jobs, timeout) }),
          Effect.withClock(liveClock)
        )
      })

    return TestWorker.of({
      worker,
      awaitReported,
      reports: Effect.sync(() => log.map((entry) => entry.report))
    })
  })

/**
 * A worker running `handlers` on the `FaktoryServer` in context, over Node sockets, and the
 * `TestWorker` to wait for its jobs. The handlers' layer is built for the life of the layer, with
 * what is in context (a `Client`, say).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { FaktoryServer, TestWorker } from "@effect-faktory/testing"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple() })
 * // Two workers on one server, with a client of it.
 * const Env = Layer.mergeAll(
 *   TestWorker.workerLayer(Ping.handle(() => Effect.void), { wid: "first" }),
 *   FaktoryServer.clientLayer()
 * ).pipe(Layer.provideMerge(FaktoryServer.layer()))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const workerLayer = <ROut, E, RIn>(
  handlers: Layer.Layer<ROut, E, RIn>,
  options: TestWorkerOptions = {}
): Layer.Layer<TestWorker | Worker.Worker, E | Worker.StartError, FaktoryServer.FaktoryServer | RIn> =>
  Layer.scopedContext(Effect.gen(function*() {
    const server = yield* FaktoryServer.FaktoryServer
    const built = yield* Layer.build(handlers)
    // The options' `server`, which only `layer` reads, is no worker option: Worker.make ignores it.
    const worker = yield* Worker.make({
      shutdownTimeout: "2 seconds",
      ...options,
      client: { ...server.clientOptions, ...options.client }
    }).pipe(Effect.provide(built), Effect.provide(NodeTransport.layer))
    // Handlers start from this fiber's runtime, and so keep its clock: is it the TestClock?
    const clock = yield* Effect.clock
    const testClock = Option.exists(yield* Effect.serviceOption(TestClock.TestClock), (test) => test === clock)
    const service = yield* makeService(worker, options.queues ?? ["default"], testClock)
    return Context.make(TestWorker, service).pipe(Context.add(Worker.Worker, worker))
  }))

/**
 * Everything an integration test of handlers needs, in one layer: a throwaway server
 * (`options.server`; no Web UI by default), a worker running `handlers` on it, a `Client` of it
 * for the test's pushes (the handlers' layer is built with it in context, so handlers push
 * through it), and the `TestWorker` to wait for jobs with `awaitReported`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { TestWorker } from "@effect-faktory/testing"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String), queue: "mail" })
 * const Handlers = SendEmail.handle(([to]) => Effect.log(`sending to ${to}`))
 * // With @effect/vitest: layer(Env)("emails", (it) => { it.effect(…) })
 * const Env = TestWorker.layer(Handlers, { queues: ["mail"] })
 *
 * const sent = Effect.gen(function* () {
 *   const jid = yield* SendEmail.push(["ada@example.com"])
 *   const [report] = yield* TestWorker.awaitReported({ jids: [jid] })
 *   return report?.verb // "ACK"
 * }).pipe(Effect.provide(Env))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <ROut, E, RIn>(
  handlers: Layer.Layer<ROut, E, RIn>,
  options: TestWorkerOptions = {}
): Layer.Layer<
  TestWorker | Worker.Worker | Client.Client | FaktoryServer.FaktoryServer,
  E | Worker.StartError | FaktoryServer.FaktoryServerError | InvalidUrlError | ConfigError.ConfigError,
  Exclude<Exclude<RIn, Client.Client>, FaktoryServer.FaktoryServer>
> =>
  workerLayer(handlers, options).pipe(
    Layer.provideMerge(FaktoryServer.clientLayer(options.client)),
    Layer.provideMerge(FaktoryServer.layer({ webUi: false, ...options.server }))
  )

/**
 * Waits until the jobs are reported (ACK or FAIL, the server's reply in) and returns their
 * reports: `{ jids }` in the order given, or `{ count }`, the oldest reports no earlier wait has
 * taken. Reports queue up from the worker's start, so a job reported before the call counts;
 * each report is taken once. Fails with `NotReportedError` after `timeout` (real time, 4 s by
 * default), naming the jobs not reported and what was reported instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "@effect-faktory/core"
 * import { TestWorker } from "@effect-faktory/testing"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* Client.Client
 *   const jid = yield* client.push({ jobtype: "Mystery", args: [] })
 *   const [report] = yield* TestWorker.awaitReported({ jids: [jid] }, { timeout: "10 seconds" })
 *   return report.failure?.errtype // "UnknownJobType"
 * })
 * ```
 *
 * @since 0.2.0
 * @category waiting
 */
export const awaitReported = (
  jobs: Awaited,
  options?: AwaitOptions
): Effect.Effect<ReadonlyArray<Worker.Reported>, NotReportedError, TestWorker> =>
  Effect.flatMap(TestWorker, (service) => service.awaitReported(jobs, options))

/**
 * Every report since the worker started, oldest first, whether a wait took it or not.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestWorker } from "@effect-faktory/testing"
 *
 * const failed = Effect.map(TestWorker.reports, (reports) => reports.filter((report) => report.verb === "FAIL"))
 * ```
 *
 * @since 0.2.0
 * @category waiting
 */
export const reports: Effect.Effect<ReadonlyArray<Worker.Reported>, never, TestWorker> = Effect.flatMap(
  TestWorker,
  (service) => service.reports
)

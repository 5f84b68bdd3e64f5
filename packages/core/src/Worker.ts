/**
 * The worker: a scoped service that fetches jobs, runs their handlers and reports each
 * outcome (ACK or FAIL), never more than `concurrency` at once.
 *
 * Its parts, each in a module of its own: this module holds the service and its lifecycle;
 * `internal/worker/processor` the `concurrency` fibers that FETCH, run and report;
 * `internal/worker/jobRunner` the job fibers (a `FiberSet`) and the reservation watchdog;
 * `internal/worker/failure` what a FAIL says about a Cause.
 *
 * Lifecycle, as Faktory defines it:
 * - start: a first BEAT registers the worker. A wrong or missing password fails the start
 *   with `AuthenticationError`; a server not yet reachable is retried with backoff.
 * - quiet (a BEAT reply, `worker.quiet`, SIGTSTP in `runMain`): close the fetch gate, keep
 *   beating, let running jobs finish;
 * - terminate (a BEAT reply, `worker.terminate`, the scope closing, SIGTERM/SIGINT in
 *   `runMain`): stop fetching, wait up to the shutdown timeout for the processors to finish
 *   their jobs (a FETCH already in flight may still bring one, which runs in what is left of
 *   the window), interrupt what is left and FAIL it (errtype `Shutdown`), a last BEAT, END.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Client from "./Client.js"
import * as ConnectionPool from "./ConnectionPool.js"
import { type CommandError, InvalidArgumentError, type InvalidUrlError, type JobValidationError } from "./Errors.js"
import * as DurationInput from "./internal/durationInput.js"
import * as Recorders from "./internal/metrics.js"
import * as Failure from "./internal/worker/failure.js"
import * as JobRunner from "./internal/worker/jobRunner.js"
import * as Processor from "./internal/worker/processor.js"
import * as Job from "./Job.js"
import * as Protocol from "./Protocol.js"
import * as Replies from "./Replies.js"
import * as Spans from "./Spans.js"
import type { Transport } from "./Transport.js"

/**
 * Queues to fetch from: an array in strict priority order, or weights (`{ critical: 3,
 * default: 1 }`; finite, at least 0, one above 0), from which each fetch draws an order at random,
 * heavier queues first more often.
 *
 * @since 0.1.0
 * @category models
 */
export type Queues = ReadonlyArray<string> | Readonly<Record<string, number>>

/**
 * Runs around every job: call `next` to run the handler (and inner middleware).
 *
 * @since 0.1.0
 * @category models
 */
export type Middleware = <R>(
  job: Job.JobContext,
  next: Effect.Effect<unknown, unknown, R>
) => Effect.Effect<unknown, unknown, R>

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkerOptions {
  /** Default `["default"]`. */
  readonly queues?: Queues | undefined
  /** Most jobs running at once. Default 20. */
  readonly concurrency?: number | undefined
  /** How long terminate waits for running jobs before interrupting them. Default 25 s. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Between heartbeats: from 1 s to under 60 s (the server reaps workers silent for 60 s). Default 15 s. */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  readonly labels?: ReadonlyArray<string> | undefined
  /** The worker id; random by default. */
  readonly wid?: string | undefined
  readonly hostname?: string | undefined
  readonly pid?: number | undefined
  /** Resident memory in KB, reported with every heartbeat. */
  readonly rssKb?: (() => number) | undefined
  /** Worker middleware, outermost first. */
  readonly middleware?: ReadonlyArray<Middleware> | undefined
  /**
   * How long a guarded job may run, given its reservation in seconds. Default: 90% of it,
   * and at least 5 s short of it (the server never expires a reservation early).
   */
  readonly reservationLimit?: ((reserveForSeconds: number) => Duration.DurationInput) | undefined
  /** How to reach the server (URL, password, TLS…). */
  readonly client?: Client.ClientOptions | undefined
}

/**
 * The most processors one worker runs. Each holds a connection of its own, and a Faktory
 * server accepts 2,000 connections in all (from every worker and producer); a trial with
 * 100,000 ran out of memory opening them.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_CONCURRENCY = 1000

/**
 * The worker's state: `running`, `quiet` (not fetching), `terminating` (shutting down),
 * `stopped`.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkerState = "running" | "quiet" | "terminating" | "stopped"

/**
 * What a running worker offers: the service of the `Worker` tag. (Named `Worker` before 0.2.0,
 * when the tag was a `GenericTag`; the name now belongs to the tag's class.)
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  readonly wid: string
  /** The worker's state now. */
  readonly state: Effect.Effect<WorkerState>
  /** The worker's state, then each change of it. */
  readonly stateChanges: Stream.Stream<WorkerState>
  /** Jobs running now. */
  readonly running: () => number
  /**
   * Jobs reported since start: counted when the server's reply to the ACK or FAIL arrives, so
   * they agree with the server's own counts at that moment.
   */
  readonly processed: () => { readonly acked: number; readonly failed: number }
  /** Stop fetching; running jobs finish. */
  readonly quiet: Effect.Effect<void>
  /** Shut down as Faktory's terminate asks; completes when the worker has stopped. */
  readonly terminate: Effect.Effect<void>
  /**
   * Shut down without the shutdown timeout, also while a terminate waits for it (a second
   * Ctrl-C): running jobs are interrupted at once and FAILed as `Shutdown`, so that the server
   * retries them rather than after their reservations run out; completes when the worker has
   * stopped.
   */
  readonly terminateNow: Effect.Effect<void>
  /** Completes when the worker has stopped (after a terminate from any source). */
  readonly awaitStopped: Effect.Effect<void>
}

/**
 * The worker service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Worker extends Context.Tag("@effect-faktory/core/Worker")<Worker, Service>() {}


/**
 * A fetched job's jobtype has no handler in this worker. errtype `UnknownJobType`.
 *
 * @example
 * ```ts
 * import { Worker } from "@effect-faktory/core"
 *
 * new Worker.UnknownJobTypeError({ jobtype: "Mystery" }).message // "no handler for jobtype Mystery"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const UnknownJobTypeError = JobRunner.UnknownJobTypeError

/**
 * @since 0.1.0
 * @category errors
 */
export type UnknownJobTypeError = JobRunner.UnknownJobTypeError

/**
 * A handler was still running when its reservation was about to run out. errtype
 * `ReservationExpired`.
 *
 * @example
 * ```ts
 * import { Worker } from "@effect-faktory/core"
 *
 * new Worker.ReservationExpiredError({ seconds: 60 }).errtype // "ReservationExpired"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const ReservationExpiredError = JobRunner.ReservationExpiredError

/**
 * @since 0.1.0
 * @category errors
 */
export type ReservationExpiredError = JobRunner.ReservationExpiredError

/**
 * Why a worker could not start: bad options, or a server that refuses it (a wrong password,
 * TLS trouble, not a Faktory server).
 *
 * @since 0.2.0
 * @category errors
 */
export type StartError = JobValidationError | InvalidArgumentError | InvalidUrlError | ConfigError.ConfigError | CommandError

const randomWid = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")
}

/** A duration option, or a refusal naming it (see DurationInput). */
const durationOption = (name: string, input: Duration.DurationInput): Effect.Effect<Duration.Duration, InvalidArgumentError> =>
  Option.match(DurationInput.decode(input), {
    onNone: () =>
      Effect.fail(
        new InvalidArgumentError({
          command: "Worker",
          detail: `${name} ${DurationInput.describe(input)} is not a duration (${DurationInput.howToWrite})`
        })
      ),
    onSome: Effect.succeed
  })

/**
 * After terminateNow, how long each of terminate's waits still lasts: enough for interrupted
 * jobs to end and for their reports' replies on a local network, not enough to be noticed.
 */
const HURRIED_WAIT = Duration.millis(250)

/**
 * One fetch's queue order. Weighted queues are drawn without replacement, each with
 * probability proportional to its weight.
 *
 * @example
 * ```ts
 * import { Worker } from "@effect-faktory/core"
 *
 * Worker.queueOrder(["a", "b"]) // ["a", "b"]
 * Worker.queueOrder({ a: 3, b: 1 }) // ["a", "b"] three times in four
 * ```
 *
 * @since 0.1.0
 * @category queues
 */
export const queueOrder = (queues: Queues, random: () => number = Math.random): ReadonlyArray<string> => {
  if (Array.isArray(queues)) return queues
  const pool = Object.entries(queues).filter(([, weight]) => weight > 0)
  const order: Array<string> = []
  while (pool.length > 0) {
    const total = pool.reduce((sum, [, weight]) => sum + weight, 0)
    let pick = random() * total
    let index = 0
    while (index < pool.length - 1 && pick >= pool[index]![1]) {
      pick -= pool[index]![1]
      index++
    }
    order.push(pool[index]![0])
    pool.splice(index, 1)
  }
  return order
}

/**
 * How a failed job is reported: errtype, message and backtrace from its Cause. A typed
 * failure reports its `errtype` (when it has one), tag or name; a defect its error's name
 * (`Defect` for a thrown string, `null` or `undefined`); an interruption `Shutdown`.
 *
 * @example
 * ```ts
 * import { Cause } from "effect"
 * import { Worker } from "@effect-faktory/core"
 *
 * Worker.describeFailure(Cause.die(new TypeError("x is undefined"))).errtype // "TypeError"
 * ```
 *
 * @since 0.1.0
 * @category outcomes
 */
export const describeFailure: (
  cause: Cause.Cause<unknown>
) => { readonly errtype: string; readonly message: string; readonly backtrace: ReadonlyArray<string> } = Failure.describe

/**
 * The default reservation guard: 90% of the reservation, and at least 5 s short of it.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { Worker } from "@effect-faktory/core"
 *
 * Duration.toSeconds(Worker.defaultReservationLimit(1800)) // 1620
 * ```
 *
 * @since 0.1.0
 * @category outcomes
 */
export const defaultReservationLimit: (reserveForSeconds: number) => Duration.Duration = JobRunner.defaultReservationLimit

/** Between attempts to reach the server at start: 100 ms doubling to 10 s, jittered. */
const startBackoff = (attempt: number) =>
  Duration.millis(Math.min(10_000, 100 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random()))

const publicState = (phase: Processor.Phase): WorkerState =>
  phase === "draining" || phase === "pastDeadline" ? "terminating" : phase

/**
 * Builds and starts a worker; it stops (terminate) when the scope closes.
 *
 * Handlers are found in the context: provide the layers that `Job.define(…).handle(…)`
 * returns. The start fails when the server refuses the worker (a wrong or missing password:
 * `AuthenticationError`); a server that cannot be reached yet is retried with backoff, with
 * one warning.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job, Worker } from "@effect-faktory/core"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * const program = Effect.gen(function* () {
 *   const worker = yield* Worker.make({ queues: ["default"], concurrency: 5 })
 *   yield* worker.awaitStopped
 * }).pipe(Effect.scoped, Effect.provide(Ping.handle(([who]) => Effect.log(`pong ${who}`))))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: WorkerOptions = {}
): Effect.Effect<Service, StartError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const handlers = yield* Job.handlersIn(yield* Effect.context<never>())
    const queues = options.queues ?? ["default"]
    const concurrency = options.concurrency ?? 20
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, not ${String(concurrency)} ` +
          "(each processor holds a connection, and a Faktory server accepts 2000 in all; run more processes for more)"
      })
    }
    if (!Array.isArray(queues)) {
      // Checked one by one: a weight of -1 or NaN would be skipped as 0, Infinity would break
      // the draw, and a string (from untyped code or a config file) would be concatenated.
      for (const [name, weight] of Object.entries(queues)) {
        const value: unknown = weight
        if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
          return yield* new InvalidArgumentError({
            command: "Worker",
            detail: `queue ${JSON.stringify(name)} has weight ${typeof value === "string" ? JSON.stringify(value) : String(value)}: a weight is a finite number of at least 0`
          })
        }
      }
      if (!Object.values(queues).some((weight) => weight > 0)) {
        return yield* new InvalidArgumentError({
          command: "Worker",
          detail: `no queue has a weight above 0 in ${JSON.stringify(queues)}: the worker would fetch from none`
        })
      }
    }
    const shutdownTimeout = yield* durationOption("shutdownTimeout", options.shutdownTimeout ?? "25 seconds")
    const heartbeatInterval = yield* durationOption("heartbeatInterval", options.heartbeatInterval ?? "15 seconds")
    if (options.reservationLimit !== undefined) {
      // Tried at start on two reservations: a limit that is no duration was found only at the
      // first guarded job, after its handler had run, which then FAILed for the worker's mistake.
      for (const seconds of [60, 1800]) {
        const limit = JobRunner.reservationLimitMillis(options.reservationLimit, seconds)
        if (limit === undefined) {
          return yield* new InvalidArgumentError({
            command: "Worker",
            detail: `reservationLimit(${seconds}) is not a finite duration above 0 (${DurationInput.howToWrite})`
          })
        }
      }
    }
    const heartbeatMillis = Duration.toMillis(heartbeatInterval)
    if (heartbeatMillis < 1000 || heartbeatMillis >= 60_000) {
      return yield* new InvalidArgumentError({
        command: "Worker",
        detail: `heartbeatInterval must be from 1 second to under 60 seconds, not ${Duration.format(heartbeatInterval)} ` +
          "(the server reaps a worker silent for 60 s; shorter than a second only loads it)"
      })
    }
    const wid = options.wid ?? randomWid()
    // Queue names are checked once; each FETCH line is then only a join.
    const strictFetch = yield* Protocol.fetch(queueOrder(queues))
    const fetchCommand = (): Processor.FetchCommand =>
      Array.isArray(queues) ? strictFetch : Protocol.make("FETCH", queueOrder(queues).join(" "), Replies.fetched)
    const client = yield* Client.make({
      ...options.client,
      // One connection per processor, one for heartbeats, one spare for reports.
      poolSize: concurrency + 2,
      worker: { wid, hostname: options.hostname ?? "unknown", pid: options.pid ?? 0, labels: options.labels ?? [] }
    })
    const address = client.url.address

    const phase = yield* SubscriptionRef.make<Processor.Phase>("running")
    // The phase's value as of its last change, read by processors twice a job without a fiber
    // step. Written only inside `changePhase`, in the same synchronous step as the ref.
    let phaseNow: Processor.Phase = "running"
    const changePhase = <A>(f: (current: Processor.Phase) => readonly [A, Processor.Phase]) =>
      SubscriptionRef.modify(phase, (current) => {
        const [result, next] = f(current)
        phaseNow = next
        return [result, next]
      })
    const gate = yield* Effect.makeLatch(true)
    const stopping = yield* Deferred.make<void>()
    const stopped = yield* Deferred.make<void>()
    /** Completed by terminateNow: terminate's waits end at once (after HURRIED_WAIT). */
    const hurried = yield* Deferred.make<void>()
    // The jobs' set lives in a scope of its own, closed without waiting: a job abandoned at
    // shutdown (see terminate) would otherwise hold the worker's scope open for ever.
    const jobsScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Effect.forkDaemon(Scope.close(jobsScope, Exit.void)))
    const jobs = yield* FiberSet.make<unknown, unknown>().pipe(Scope.extend(jobsScope))
    const processors = yield* FiberSet.make<void>()
    const lifecycle = yield* FiberSet.make<void>()
    const counts = { acked: 0, failed: 0, interrupted: 0, unreported: 0 }
    const outage = Processor.makeOutage(address)
    const startedAt = performance.now()
    // The metrics carry the labels in effect where the worker is made (Effect.tagMetrics).
    const recorders = Recorders.makeRecorders(yield* FiberRef.get(FiberRef.currentMetricLabels))
    // Derived from the set itself: outside a fiber (the sync getter), a run of its size.
    const runningJobs = () => Effect.runSync(FiberSet.size(jobs))

    const runner = JobRunner.make({
      handlers,
      jobs,
      middleware: options.middleware ?? [],
      reservationLimit: options.reservationLimit,
      // Each job gets a consumer span when a tracer records them (see Spans).
      tracing: yield* Spans.isRecording,
      clock: yield* Effect.clock
    })

    const beat = (state: Processor.Phase) =>
      client.beat({
        wid,
        currentState: state === "quiet" ? "quiet" : state === "running" ? undefined : "terminate",
        rssKb: options.rssKb?.()
      })

    const beatOnce = Effect.gen(function*() {
      const reply = yield* Effect.flatMap(SubscriptionRef.get(phase), (state) =>
        beat(state).pipe(
          Effect.catchIf(
            (error) => error._tag === "ServerError" && error.detail.startsWith("unknown worker"),
            () =>
              // The server dropped us (a stall, a restart): a fresh connection says HELLO again.
              Effect.logWarning("the server no longer knows this worker; registering again").pipe(
                Effect.zipRight(client.withConnection((connection) => connection.close)),
                Effect.zipRight(beat(state))
              )
          )
        ))
      yield* obey(reply)
    }).pipe(
      // During an outage the processors' one WARN has said it; each failed beat is DEBUG then.
      Effect.catchAll((error) =>
        outage.isDown()
          ? Effect.logDebug(`heartbeat failed: ${error.message}`)
          : Effect.logWarning(`heartbeat failed: ${error.message}`)
      ),
      Effect.annotateLogs({ wid })
    )

    /** What a BEAT reply asks for. */
    const obey = (reply: Protocol.WorkerState) =>
      reply === "quiet" ? quiet : reply === "terminate" ? Effect.asVoid(FiberSet.run(lifecycle, terminate)) : Effect.void

    const quiet = Effect.flatMap(
      changePhase((current) => current === "running" ? [true, "quiet"] : [false, current]),
      (changed) => changed ? Effect.zipRight(gate.close, Effect.logInfo("quiet: no longer fetching")) : Effect.void
    )

    /**
     * Some when every processor has ended within `limit`; none when the limit passed first, or
     * HURRIED_WAIT after terminateNow. Each side of the race is interruptible, so that the
     * loser can be stopped inside terminate's uninterruptible sequence; the race itself is not:
     * terminate often runs as a finalizer of a fiber interrupted by a signal, where an
     * interruptible region would end at once (measured: the wait ended, and terminate with it,
     * before any deadline).
     */
    const untilProcessorsEnd = (limit: Duration.DurationInput): Effect.Effect<Option.Option<void>> =>
      Effect.raceFirst(
        Effect.interruptible(Effect.asSome(FiberSet.awaitEmpty(processors))),
        Effect.interruptible(Effect.as(
          Effect.race(Effect.sleep(limit), Effect.zipRight(Deferred.await(hurried), Effect.sleep(HURRIED_WAIT))),
          Option.none()
        ))
      )

    /**
     * Close the gate, wait up to the shutdown timeout, interrupt what is left, report, END
     * (the pool says END as the scope closes).
     */
    const terminate: Effect.Effect<void> = Effect.uninterruptible(Effect.gen(function*() {
      const first = yield* changePhase((current) =>
        current === "running" || current === "quiet" ? [true, "draining"] : [false, current])
      if (!first) return yield* Deferred.await(stopped)
      yield* Deferred.succeed(stopping, undefined)
      // Processors waiting at the gate wake, see the phase and leave; those holding a job
      // finish it, and a FETCH in flight may still bring one, which runs like the others.
      yield* gate.open
      yield* Effect.logInfo(
        `terminating: waiting up to ${Duration.format(shutdownTimeout)} for ${runningJobs()} running jobs` +
          " and the FETCHes in flight (the server answers those within 2 s)"
      )
      const drained = yield* untilProcessorsEnd(shutdownTimeout)
      if (Option.isNone(drained)) {
        yield* changePhase(() => [undefined, "pastDeadline"])
        const left = runningJobs()
        if (left > 0) yield* Effect.logWarning(`interrupting ${left} jobs still running; they are FAILed as Shutdown`)
        yield* runner.interruptAll
        // Their processors report them. A job that ignores its interruption (uninterruptible)
        // is not waited for past ABANDON_AFTER: it is reported as abandoned, so that the
        // server retries it and the worker stops.
        const ended = yield* untilProcessorsEnd(JobRunner.ABANDON_AFTER)
        if (Option.isNone(ended)) {
          const abandoned = runner.abandonAll()
          if (abandoned > 0) {
            // After terminateNow the wait was HURRIED_WAIT, not ABANDON_AFTER.
            const waited = (yield* Deferred.isDone(hurried)) ? "at once" : `within ${Duration.format(JobRunner.ABANDON_AFTER)}`
            yield* Effect.logWarning(
              `${abandoned} jobs did not stop ${waited} when interrupted; ` +
                "FAILed as Shutdown so that the server retries them (they may still be running in this process)"
            )
          }
          // Reports get a bounded time if the server is away.
          yield* untilProcessorsEnd("10 seconds")
        }
      }
      // Processors still retrying a report (the server is away) give up here; each says so.
      yield* FiberSet.clear(processors)
      yield* changePhase(() => [undefined, "stopped"])
      const summary = `stopped: ${counts.acked} acked, ${counts.failed} failed (${counts.interrupted} interrupted by shutdown)` +
        `${counts.unreported === 0 ? "" : `, ${counts.unreported} not reported (the server was away)`}; ` +
        `up ${Duration.format(Duration.millis(Math.round(performance.now() - startedAt)))}`
      yield* counts.unreported === 0 ? Effect.logInfo(summary) : Effect.logWarning(summary)
      // A last BEAT tells the Web UI this worker is going away; a server that is away gets 2 s.
      yield* beatOnce.pipe(Effect.interruptible, Effect.timeout("2 seconds"), Effect.ignore)
      yield* Deferred.succeed(stopped, undefined)
    }))

    // The first BEAT registers the worker: a refusal (a wrong password, TLS trouble) fails the
    // start; a server not yet reachable is retried, with one warning for the whole wait.
    const firstReply = yield* Effect.gen(function*() {
      for (let attempt = 0;; attempt++) {
        const result = yield* Effect.either(beat("running"))
        if (Either.isRight(result)) {
          if (attempt > 0) yield* Effect.logInfo(`reached ${address}`)
          return result.right
        }
        const error = result.left
        if (!(error._tag === "ConnectionError" && ConnectionPool.isTransient(error))) return yield* Effect.fail(error)
        if (attempt === 0) {
          yield* Effect.logWarning(`cannot reach ${address}: ${error.message}; retrying with backoff (0.1 s doubling to 10 s)`)
        }
        yield* Effect.sleep(startBackoff(attempt))
      }
    })

    yield* Effect.addFinalizer(() => terminate)
    yield* runner.watchdog.pipe(Effect.interruptible, Effect.forkScoped)
    yield* Effect.forever(Effect.zipRight(Effect.sleep(heartbeatInterval), beatOnce)).pipe(
      Effect.interruptible,
      Effect.forkScoped
    )
    const processor = Processor.make({
      client,
      runner,
      gate,
      phase: () => phaseNow,
      stopping,
      fetchCommand,
      recordUnreported: () => {
        counts.unreported++
      },
      recordReport: (acked, errtype) => {
        if (acked) counts.acked++
        else counts.failed++
        if (errtype === "Shutdown") counts.interrupted++
      },
      outage,
      recorders
    })
    for (let i = 0; i < concurrency; i++) yield* FiberSet.run(processors, processor)
    const jobtypes = [...handlers.keys()].sort()
    yield* Effect.logInfo(
      `worker ${wid} started on ${address}: ${concurrency} at once from ${JSON.stringify(queues)}` +
        `${options.labels === undefined || options.labels.length === 0 ? "" : `, labels ${options.labels.join(",")}`}` +
        `; jobtypes: ${jobtypes.length === 0 ? "none" : jobtypes.join(", ")}`
    )
    if (jobtypes.length === 0) {
      yield* Effect.logWarning("no handlers are registered: every job fetched will FAIL as UnknownJobType")
    }
    yield* obey(firstReply)

    return Worker.of({
      wid,
      state: Effect.map(SubscriptionRef.get(phase), publicState),
      stateChanges: Stream.changes(Stream.map(phase.changes, publicState)),
      running: runningJobs,
      processed: () => ({ acked: counts.acked, failed: counts.failed }),
      quiet,
      terminate: Effect.zipRight(FiberSet.run(lifecycle, terminate), Deferred.await(stopped)),
      terminateNow: Effect.gen(function*() {
        if (yield* Deferred.succeed(hurried, undefined)) {
          yield* Effect.logWarning(
            `terminating now: ${runningJobs()} running jobs are interrupted and FAILed as Shutdown, so that the server retries them`
          )
        }
        yield* FiberSet.run(lifecycle, terminate)
        yield* Deferred.await(stopped)
      }),
      awaitStopped: Deferred.await(stopped)
    })
  })

/**
 * The worker as a layer. Provide handler layers to it:
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job, Worker } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "mail" })
 * const Handlers = SendEmail.handle(([to, n]) => Effect.log(`send ${n} to ${to}`))
 *
 * const WorkerLive = Worker.layer({ queues: ["critical", "mail", "default"], concurrency: 20 }).pipe(
 *   Layer.provide(Handlers),
 *   Layer.provide(NodeTransport.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: WorkerOptions = {}
): Layer.Layer<Worker, StartError, Transport> =>
  Layer.scoped(Worker, make(options))

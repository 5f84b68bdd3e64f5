/**
 * The worker: a scoped service that fetches jobs, runs their handlers and reports each
 * outcome (ACK or FAIL), never more than `concurrency` at once.
 *
 * Lifecycle, as Faktory defines it:
 * - quiet (a BEAT reply, `worker.quiet`, SIGTSTP in `runMain`): stop fetching, keep beating,
 *   let running jobs finish;
 * - terminate (a BEAT reply, `worker.terminate`, the scope closing, SIGTERM/SIGINT in
 *   `runMain`): stop fetching, wait up to the shutdown timeout, interrupt what is left and FAIL
 *   those jobs (errtype `Shutdown`), then END every connection.
 *
 * Reporting is never lost to interruption: the handler runs under `restore`, its outcome is
 * reported in an uninterruptible region, retried with backoff while the server is away.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Client from "./Client.js"
import type { InvalidUrlError, JobValidationError } from "./Errors.js"
import * as Job from "./Job.js"
import type * as JobPayload from "./JobPayload.js"
import * as Protocol from "./Protocol.js"
import type { Transport } from "./Transport.js"

/**
 * Queues to fetch from: an array in strict priority order, or weights (`{ critical: 3,
 * default: 1 }`), from which each fetch draws an order at random, heavier queues first more often.
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
export type Middleware = (
  job: Job.JobContext,
  next: Effect.Effect<unknown, unknown>
) => Effect.Effect<unknown, unknown>

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
  /** Between heartbeats. Default 15 s (the server reaps workers silent for 60 s). */
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
 * The worker's state: `running`, `quiet` (not fetching), `terminating` (shutting down),
 * `stopped`.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkerState = "running" | "quiet" | "terminating" | "stopped"

/**
 * @since 0.1.0
 * @category models
 */
export interface Worker {
  readonly wid: string
  readonly state: () => WorkerState
  /** Jobs running now. */
  readonly running: () => number
  /** Jobs finished (ACKed or FAILed) since start. */
  readonly processed: () => { readonly acked: number; readonly failed: number }
  /** Stop fetching; running jobs finish. */
  readonly quiet: Effect.Effect<void>
  /** Shut down as Faktory's terminate asks; completes when the worker has stopped. */
  readonly terminate: Effect.Effect<void>
  /** Completes when the worker has stopped (after a terminate from any source). */
  readonly awaitStopped: Effect.Effect<void>
}

/**
 * The worker service.
 *
 * @since 0.1.0
 * @category tags
 */
export const Worker: Context.Tag<Worker, Worker> = Context.GenericTag<Worker>("@effect-faktory/core/Worker")

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
export class UnknownJobTypeError extends Schema.TaggedError<UnknownJobTypeError>()("UnknownJobTypeError", {
  jobtype: Schema.String
}) {
  readonly errtype = "UnknownJobType"
  override get message(): string {
    return `no handler for jobtype ${this.jobtype}`
  }
}

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
export class ReservationExpiredError extends Schema.TaggedError<ReservationExpiredError>()(
  "ReservationExpiredError",
  { seconds: Schema.Number }
) {
  readonly errtype = "ReservationExpired"
  override get message(): string {
    return `interrupted before its ${this.seconds} s reservation ran out`
  }
}

const randomWid = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")
}

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

const hasString = (value: unknown, key: string): string | undefined => {
  if (typeof value !== "object" || value === null || !(key in value)) return undefined
  const field: unknown = Reflect.get(value, key)
  return typeof field === "string" && field !== "" ? field : undefined
}

/**
 * How a failed job is reported: errtype, message and backtrace from its Cause. A typed
 * failure reports its `errtype` (when it has one), tag or name; a defect its error's name;
 * an interruption `Shutdown`.
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
export const describeFailure = (
  cause: Cause.Cause<unknown>
): { readonly errtype: string; readonly message: string; readonly backtrace: ReadonlyArray<string> } => {
  const backtrace = Cause.pretty(cause, { renderErrorCause: true }).split("\n").filter((line) => line.trim() !== "")
    .slice(0, Protocol.MAX_BACKTRACE_LINES)
  const failure = Cause.failureOption(cause)
  const defect = Cause.dieOption(cause)
  const error: unknown = Option.isSome(failure) ? failure.value : Option.isSome(defect) ? defect.value : undefined
  if (error === undefined) {
    return { errtype: "Shutdown", message: "the worker shut down before the job finished", backtrace }
  }
  const errtype = hasString(error, "errtype") ?? hasString(error, "_tag") ??
    (error instanceof Error ? error.name : Option.isSome(defect) ? "Defect" : "Error")
  const message = hasString(error, "message") ??
    (typeof error === "string" ? error : safeJson(error))
  return { errtype, message, backtrace }
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

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
export const defaultReservationLimit = (reserveForSeconds: number): Duration.Duration =>
  Duration.millis(Math.max(1000, reserveForSeconds * 1000 - Math.max(5000, reserveForSeconds * 100)))

/** Retries for ACK/FAIL while the server is away: 200 ms doubling, at most 5 s apart. */
const reportRetry = Schedule.exponential("200 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered
)

/** Between failed fetches: 100 ms doubling to 10 s, jittered. */
const fetchBackoff = (failures: number) =>
  Duration.millis(Math.min(10_000, 100 * 2 ** Math.min(failures, 10)) * (0.5 + Math.random()))

/**
 * Builds and starts a worker; it stops (terminate) when the scope closes.
 *
 * Handlers are found in the context: provide the layers that `Job.define(…).handle(…)`
 * returns.
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
): Effect.Effect<
  Worker,
  JobValidationError | InvalidUrlError | ConfigError.ConfigError,
  Scope.Scope | Transport
> =>
  Effect.gen(function*() {
    const handlers = yield* Job.handlersIn(yield* Effect.context<never>())
    const queues = options.queues ?? ["default"]
    const concurrency = Math.max(1, options.concurrency ?? 20)
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? "25 seconds")
    const heartbeatInterval = Duration.decode(options.heartbeatInterval ?? "15 seconds")
    const middleware = options.middleware ?? []
    const wid = options.wid ?? randomWid()
    const client = yield* Client.make({
      ...options.client,
      // One connection per fetcher, one for heartbeats, one spare for reports.
      poolSize: concurrency + 2,
      worker: { wid, hostname: options.hostname ?? "unknown", pid: options.pid ?? 0, labels: options.labels ?? [] }
    })

    let state: WorkerState = "running"
    let runningJobs = 0
    let acked = 0
    let failed = 0
    let abandonReports = false
    /** Set once terminate has waited its shutdown timeout: jobs fetched after it are not started. */
    let pastDeadline = false
    const gate = yield* Effect.makeLatch(true)
    const stopped = yield* Deferred.make<void>()
    const stopping = yield* Deferred.make<void>()
    const jobs = yield* FiberSet.make<unknown, never>()
    const processors = yield* FiberSet.make<unknown, never>()
    const lifecycle = yield* FiberSet.make<unknown, never>()

    const report = (job: JobPayload.Job, exit: Exit.Exit<unknown, unknown>) => {
      const send = Exit.isSuccess(exit)
        ? Effect.as(client.ack(job.jid), "acked" as const)
        : Effect.as(client.fail({ jid: job.jid, ...describeFailure(exit.cause) }), "failed" as const)
      return send.pipe(
        Effect.retry({
          schedule: reportRetry,
          while: (error) => error._tag === "ConnectionError" && !abandonReports
        }),
        Effect.tap((outcome) =>
          Effect.sync(() => {
            if (outcome === "acked") acked++
            else failed++
          })
        ),
        Effect.catchAll((error) =>
          Effect.logWarning(
            `could not report ${Exit.isSuccess(exit) ? "ACK" : "FAIL"}: ${error.message}; ` +
              "the server will run the job again once its reservation expires"
          )
        )
      )
    }

    const execute = (job: JobPayload.Job): Effect.Effect<unknown, unknown> => {
      const entry = handlers.get(job.jobtype)
      if (entry === undefined) return Effect.fail(new UnknownJobTypeError({ jobtype: job.jobtype }))
      const context = Job.contextOf(job)
      const run = middleware.reduceRight<Effect.Effect<unknown, unknown>>(
        (next, wrap) => wrap(context, next),
        entry.execute(job.args, context)
      )
      if (!entry.guardReservation) return run
      // Fail before the server's reaper expires the reservation and hands the job to another worker.
      const seconds = Math.min(86400, Math.max(60, job.reserve_for === undefined || job.reserve_for === 0 ? 1800 : job.reserve_for))
      const limit = options.reservationLimit?.(seconds) ?? defaultReservationLimit(seconds)
      return Effect.timeoutFail(run, { duration: limit, onTimeout: () => new ReservationExpiredError({ seconds }) })
    }

    const runJob = (job: JobPayload.Job) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.sync(() => runningJobs++).pipe(
          Effect.zipRight(restore(execute(job))),
          Effect.withSpan(`faktory.job ${job.jobtype}`, {
            kind: "consumer",
            attributes: { "faktory.jid": job.jid, "faktory.jobtype": job.jobtype, "faktory.queue": job.queue }
          }),
          Effect.exit,
          Effect.flatMap((exit) => report(job, exit)),
          Effect.ensuring(Effect.sync(() => runningJobs--)),
          Effect.annotateLogs({ jid: job.jid, jobtype: job.jobtype })
        )
      )

    const processor = Effect.gen(function*() {
      let failures = 0
      while (true) {
        yield* gate.await
        if (state === "terminating" || state === "stopped") return
        const fetched = yield* Effect.either(client.fetch(queueOrder(queues)))
        if (fetched._tag === "Left") {
          if (failures === 0) yield* Effect.logWarning(`fetch failed, backing off: ${fetched.left.message}`)
          failures++
          yield* Effect.raceFirst(Effect.sleep(fetchBackoff(failures)), Deferred.await(stopping))
          continue
        }
        if (failures > 0) yield* Effect.logInfo("fetching again")
        failures = 0
        if (Option.isNone(fetched.right)) continue
        if (pastDeadline) {
          // Fetched as the worker shuts down, too late to run: hand it back to the server now.
          yield* report(fetched.right.value, Exit.interrupt(FiberId.none))
          continue
        }
        const fiber = yield* FiberSet.run(jobs, runJob(fetched.right.value))
        yield* Fiber.await(fiber)
      }
    })

    const beatOnce = Effect.gen(function*() {
      const rssKb = options.rssKb?.()
      const currentState = state === "quiet" ? "quiet" : state === "running" ? undefined : "terminate"
      const beat = { wid, currentState, rssKb } satisfies Protocol.Beat
      const reply = yield* client.beat(beat).pipe(
        Effect.catchIf(
          (error) => error._tag === "ServerError" && error.detail.startsWith("unknown worker"),
          () =>
            // The server dropped us (a stall, a restart): a fresh connection says HELLO again.
            Effect.logWarning("the server no longer knows this worker; registering again").pipe(
              Effect.zipRight(client.withConnection((connection) => connection.close)),
              Effect.zipRight(client.beat(beat))
            )
        )
      )
      if (reply === "quiet" && state === "running") yield* quiet
      if (reply === "terminate" && (state === "running" || state === "quiet")) {
        yield* FiberSet.run(lifecycle, terminate)
      }
    }).pipe(
      Effect.catchAll((error) => Effect.logWarning(`heartbeat failed: ${error.message}`)),
      Effect.annotateLogs({ wid })
    )

    const quiet = Effect.suspend(() => {
      if (state !== "running") return Effect.void
      state = "quiet"
      return gate.close.pipe(Effect.zipRight(Effect.logInfo("quiet: no longer fetching")))
    })

    const interruptJobs = FiberSet.clear(jobs).pipe(
      Effect.interruptible,
      // Interrupting a job runs its FAIL report; bound it in case the server is away.
      Effect.timeout("10 seconds"),
      Effect.tapError(() => Effect.sync(() => (abandonReports = true))),
      Effect.ignore
    )

    let terminateStarted = false
    const terminate: Effect.Effect<void> = Effect.suspend(() => {
      if (terminateStarted) return Deferred.await(stopped)
      terminateStarted = true
      return Effect.uninterruptible(Effect.gen(function*() {
        state = "terminating"
        yield* Deferred.succeed(stopping, undefined)
        // Let waiting processors see the state and leave; those mid-job finish it.
        yield* gate.open
        yield* Effect.logInfo(`terminating: waiting up to ${Duration.format(shutdownTimeout)} for ${runningJobs} jobs`)
        // The waits are interruptible so that their deadlines hold inside this uninterruptible sequence.
        const finished = yield* FiberSet.awaitEmpty(jobs).pipe(
          Effect.interruptible,
          Effect.timeout(shutdownTimeout),
          Effect.option
        )
        pastDeadline = true
        if (Option.isNone(finished) && runningJobs > 0) {
          yield* Effect.logWarning(`interrupting ${runningJobs} jobs still running; they are FAILed as Shutdown`)
          yield* interruptJobs
        }
        // Processors finish the FETCH they are in (the server answers within 2 s): one
        // interrupted mid-FETCH would strand the job the server then hands to its closed socket.
        yield* FiberSet.awaitEmpty(processors).pipe(Effect.interruptible, Effect.timeout("5 seconds"), Effect.ignore)
        yield* interruptJobs
        yield* FiberSet.clear(processors)
        // A last BEAT tells the Web UI this worker is going away.
        yield* beatOnce
        state = "stopped"
        yield* Deferred.succeed(stopped, undefined)
      }))
    })

    yield* Effect.addFinalizer(() => terminate)

    yield* beatOnce
    yield* Effect.forever(Effect.zipRight(Effect.sleep(heartbeatInterval), beatOnce)).pipe(
      Effect.interruptible,
      Effect.forkScoped
    )
    for (let i = 0; i < concurrency; i++) yield* FiberSet.run(processors, Effect.interruptible(processor))
    yield* Effect.logInfo(`worker ${wid} started: ${concurrency} at once from ${JSON.stringify(queues)}`)

    return Worker.of({
      wid,
      state: () => state,
      running: () => runningJobs,
      processed: () => ({ acked, failed }),
      quiet,
      terminate: Effect.zipRight(FiberSet.run(lifecycle, terminate), Deferred.await(stopped)),
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
): Layer.Layer<Worker, JobValidationError | InvalidUrlError | ConfigError.ConfigError, Transport> =>
  Layer.scoped(Worker, make(options))

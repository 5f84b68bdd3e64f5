/**
 * Running one job: find its handler, decode its arguments, wrap it in the middleware, run it
 * in a fiber of its own, and turn how it ended into the report the server gets (ACK, or FAIL
 * with errtype, message and backtrace). The worker runs every job it fetches through a
 * runner, and so does `@effect-faktory/testing`'s fake, so a test sees what production does.
 *
 * Each job's fiber is started from a runtime the caller captured (its loggers, log level,
 * flags) and kept in the runner's `FiberSet`, so that shutdown and the reservation guard
 * interrupt a job alone, never whoever reports it.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as FiberSet from "effect/FiberSet"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as Client from "./Client.js"
import { JobReservation, type Reservation } from "./internal/job/reservation.js"
import * as Spans from "./internal/observability/spans.js"
import * as Failure from "./internal/runner/failure.js"
import * as ReservationGuard from "./internal/runner/reservationGuard.js"
import * as DurationInput from "./internal/shared/durationInput.js"
import * as LiveClock from "./internal/shared/liveClock.js"
import * as JobHandler from "./JobHandler.js"
import * as JobPayload from "./JobPayload.js"
import * as Protocol from "./Protocol.js"

/**
 * Runs around every job: call `next` to run the handler (and inner middleware). Like a
 * handler, it may use the job (`JobHandler.CurrentJob`) and the runner's `Client`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { JobRunner } from "@effect-faktory/core"
 *
 * const timed: JobRunner.Middleware = (job, next) => Effect.withLogSpan(next, job.jobtype)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Middleware = <R>(
  job: JobHandler.JobContext,
  next: Effect.Effect<unknown, unknown, R>
) => Effect.Effect<unknown, unknown, R | JobHandler.CurrentJob | Client.Client>

/**
 * A fetched job's jobtype has no handler here. errtype `UnknownJobType`.
 *
 * @example
 * ```ts
 * import { JobRunner } from "@effect-faktory/core"
 *
 * new JobRunner.UnknownJobTypeError({ jobtype: "Mystery" }).message // "no handler for jobtype Mystery"
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
 * A fetched job's arguments do not match its definition's Schema; the handler was not called.
 * errtype `InvalidArguments`.
 *
 * @example
 * ```ts
 * import { JobRunner } from "@effect-faktory/core"
 *
 * new JobRunner.InvalidArgumentsError({ jobtype: "SendEmail", detail: "[0]: Expected string" }).errtype // "InvalidArguments"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgumentsError extends Schema.TaggedError<InvalidArgumentsError>()("InvalidArgumentsError", {
  jobtype: Schema.String,
  detail: Schema.String
}) {
  readonly errtype = "InvalidArguments"
  override get message(): string {
    return `invalid arguments for ${this.jobtype}: ${this.detail}`
  }
}

/**
 * Why a job would be refused before its handler runs: by the server at PUSH
 * (`RefusedByServer`, in the server's words), for want of a handler (`UnknownJobType`), or
 * because its arguments do not decode (`InvalidArguments`, the message its FAIL would carry).
 *
 * @since 0.2.0
 * @category models
 */
export interface Refusal {
  readonly errtype: "RefusedByServer" | "UnknownJobType" | "InvalidArguments" | (string & {})
  readonly message: string
}

/**
 * What would become of a job pushed by any producer, short of running it: `None` when the
 * server takes it and a handler here decodes its arguments; else why not. Arguments are
 * decoded as the worker decodes them (asynchronous Schema parts included); the handler is not
 * called. `faktory-worker contracts --check` runs it over a file of jobs.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job, JobHandler, JobRunner } from "@effect-faktory/core"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String, Schema.Number) })
 * const refusal = Effect.gen(function* () {
 *   const handlers = yield* JobHandler.collect(yield* Effect.context<never>())
 *   return yield* JobRunner.check(handlers, { jid: "0123456789ab", jobtype: "SendEmail", args: ["a@example.com", "3"] })
 * }).pipe(Effect.provide(SendEmail.handle(() => Effect.void)))
 * // Option.some({ errtype: "InvalidArguments", message: "invalid arguments for SendEmail: 1: Expected number, actual \"3\"" })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const check = (
  handlers: ReadonlyMap<string, JobHandler.JobHandler>,
  job: unknown
): Effect.Effect<Option.Option<Refusal>> =>
  Effect.suspend(() => {
    const refused = JobPayload.serverRefusal(job)
    if (refused !== undefined || !isPushedJob(job)) {
      return Effect.succeedSome<Refusal>({ errtype: "RefusedByServer", message: refused ?? "not a job" })
    }
    const { args, jobtype } = job
    const handler = handlers.get(jobtype)
    if (handler === undefined) {
      return Effect.succeedSome<Refusal>({ errtype: "UnknownJobType", message: new UnknownJobTypeError({ jobtype }).message })
    }
    return handler.use((typed) => typed.decode(args)).pipe(
      Effect.as(Option.none<Refusal>()),
      Effect.catchAll((error) =>
        Effect.succeedSome<Refusal>({
          errtype: "InvalidArguments",
          message: new InvalidArgumentsError({ jobtype, detail: JobPayload.formatIssues(error) }).message
        })
      ),
      // A transformation that throws: the job's FAIL would report it as a defect.
      Effect.catchAllDefect((defect) => {
        const { errtype, message } = Failure.describe(Cause.die(defect))
        return Effect.succeedSome<Refusal>({ errtype, message })
      })
    )
  })

/** What `JobPayload.serverRefusal` lets through has these, as the type needs them said. */
const isPushedJob = (job: unknown): job is { readonly jobtype: string; readonly args: ReadonlyArray<unknown> } =>
  typeof job === "object" && job !== null && "jobtype" in job && typeof job.jobtype === "string" && "args" in job &&
  Array.isArray(job.args)

/**
 * A handler or middleware returned something other than an Effect (a Promise from an `async`
 * function, say). errtype `HandlerReturnedNonEffect`.
 *
 * @example
 * ```ts
 * import { JobRunner } from "@effect-faktory/core"
 *
 * new JobRunner.NotAnEffectError({ jobtype: "SendEmail", returned: "a Promise" }).errtype // "HandlerReturnedNonEffect"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class NotAnEffectError extends Schema.TaggedError<NotAnEffectError>()("NotAnEffectError", {
  jobtype: Schema.String,
  returned: Schema.String,
  by: Schema.optional(Schema.String)
}) {
  readonly errtype = "HandlerReturnedNonEffect"
  override get message(): string {
    return `${this.by ?? "the handler"} for ${this.jobtype} returned ${this.returned}, not an Effect` +
      (this.returned === "a Promise" ? " (wrap it: Effect.tryPromise(() => ...))" : "")
  }
}

/**
 * A handler was still running when its reservation was about to run out. errtype
 * `ReservationExpired`.
 *
 * @example
 * ```ts
 * import { JobRunner } from "@effect-faktory/core"
 *
 * new JobRunner.ReservationExpiredError({ seconds: 60 }).errtype // "ReservationExpired"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ReservationExpiredError extends Schema.TaggedError<ReservationExpiredError>()(
  "ReservationExpiredError",
  {
    seconds: Schema.Number,
    /** Set when the job ignored its interruption: how long the runner waited before giving up on it. */
    abandonedAfterSeconds: Schema.optional(Schema.Number)
  }
) {
  readonly errtype = "ReservationExpired"
  override get message(): string {
    return this.abandonedAfterSeconds === undefined
      ? `interrupted before its ${this.seconds} s reservation ran out`
      : `did not stop within ${this.abandonedAfterSeconds} s of its interruption as its ${this.seconds} s reservation ` +
        "was about to run out (uninterruptible?); FAILed so that the server retries it, while it may still be running in this process"
  }
}

/**
 * A job that did not end within `ABANDON_AFTER` of its interruption at shutdown (a handler
 * that made itself uninterruptible): FAILed so that the server retries it, while its fiber may
 * still run in this process. errtype `Shutdown`, as for any job cut short by shutdown.
 *
 * @example
 * ```ts
 * import { JobRunner } from "@effect-faktory/core"
 *
 * new JobRunner.AbandonedAtShutdownError({ seconds: 5 }).errtype // "Shutdown"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class AbandonedAtShutdownError extends Schema.TaggedError<AbandonedAtShutdownError>()(
  "AbandonedAtShutdownError",
  { seconds: Schema.Number }
) {
  readonly errtype = "Shutdown"
  override get message(): string {
    return `did not stop within ${this.seconds} s of its interruption at shutdown (uninterruptible?); FAILed so that the server retries it`
  }
}

/**
 * How long an interrupted job may take to end before it is given up on (reported as
 * abandoned). Interruption is near-instant for most jobs; this leaves room for finalizers.
 *
 * @since 0.2.0
 * @category constants
 */
export const ABANDON_AFTER: Duration.Duration = Duration.seconds(5)
const ABANDON_AFTER_MILLIS = Duration.toMillis(ABANDON_AFTER)

/**
 * What a FAIL says about a failed job.
 *
 * @since 0.2.0
 * @category models
 */
export interface FailureReport {
  readonly errtype: string
  readonly message: string
  readonly backtrace: ReadonlyArray<string>
}

/**
 * How a failed job is reported: errtype, message and backtrace from its Cause. A typed
 * failure reports its `errtype` (when it has one), tag or name; a defect its error's name
 * (`Defect` for a thrown string, `null` or `undefined`); an interruption `Shutdown`. Each is
 * bounded as the server bounds what it keeps, saying how much of the message was cut.
 *
 * @example
 * ```ts
 * import { Cause } from "effect"
 * import { JobRunner } from "@effect-faktory/core"
 *
 * JobRunner.describeFailure(Cause.die(new TypeError("x is undefined"))).errtype // "TypeError"
 * ```
 *
 * @since 0.1.0
 * @category outcomes
 */
export const describeFailure: (cause: Cause.Cause<unknown>) => FailureReport = Failure.describe

/**
 * What the server is told about a job: its ACK or FAIL command, and for a FAIL what it says.
 *
 * @since 0.2.0
 * @category models
 */
export interface Report {
  readonly command: Protocol.Command<void, Protocol.ReplyError>
  /** Undefined for an ACK. */
  readonly failure: FailureReport | undefined
}

/**
 * The report of a job that ended with `exit`.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { JobRunner } from "@effect-faktory/core"
 *
 * JobRunner.report("0123456789ab", Exit.void).command.line // 'ACK {"jid":"0123456789ab"}\r\n'
 * ```
 *
 * @since 0.2.0
 * @category outcomes
 */
export const report = (jid: string, exit: Exit.Exit<unknown, unknown>): Report => {
  if (Exit.isSuccess(exit)) return { command: Protocol.ack(jid), failure: undefined }
  const failure = Failure.describe(exit.cause)
  return { command: Protocol.fail({ jid, ...failure }), failure }
}

/**
 * How one job ended, and what to tell the server.
 *
 * @since 0.2.0
 * @category models
 */
export interface Outcome {
  readonly exit: Exit.Exit<unknown, unknown>
  readonly report: Report
}

/**
 * The default reservation guard: 90% of the reservation, and at least 5 s short of it.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { JobRunner } from "@effect-faktory/core"
 *
 * Duration.toSeconds(JobRunner.defaultReservationLimit(1800)) // 1620
 * ```
 *
 * @since 0.1.0
 * @category reservations
 */
export const defaultReservationLimit = (reserveForSeconds: number): Duration.Duration =>
  Duration.millis(defaultReservationLimitMillis(reserveForSeconds))

/** The same in milliseconds: a job's deadline is taken without a Duration made for it. */
const defaultReservationLimitMillis = (reserveForSeconds: number): number =>
  Math.max(1000, reserveForSeconds * 1000 - Math.max(5000, reserveForSeconds * 100))

/**
 * A reservation limit given as an option, in milliseconds; undefined when it throws or is not
 * a finite duration above 0 (`Worker.make` tries it at start, so a job never fails for it).
 *
 * @example
 * ```ts
 * import { JobRunner } from "@effect-faktory/core"
 *
 * JobRunner.reservationLimitMillis((seconds) => `${seconds / 2} seconds`, 60) // 30000
 * ```
 *
 * @since 0.2.0
 * @category reservations
 */
export const reservationLimitMillis = (
  limit: (reserveForSeconds: number) => Duration.DurationInput,
  seconds: number
): number | undefined => {
  try {
    const millis = Option.map(DurationInput.decode(limit(seconds)), Duration.toMillis)
    return Option.isSome(millis) && Number.isFinite(millis.value) && millis.value > 0 ? millis.value : undefined
  } catch {
    return undefined
  }
}

/**
 * What a job's fiber starts from: the fiber refs (loggers, log level, annotations) and runtime
 * flags of whoever runs it.
 *
 * @since 0.2.0
 * @category models
 */
export interface JobRuntime {
  readonly fiberRefs: FiberRefs.FiberRefs
  readonly runtimeFlags: RuntimeFlags.RuntimeFlags
}

/**
 * The current fiber's runtime, as jobs start from it: interruptible whatever region the
 * caller is in, and without the runtime's own "Fiber terminated with an unhandled error" line
 * (a failed job is reported by whoever runs it).
 *
 * @since 0.2.0
 * @category constructors
 */
export const currentRuntime: Effect.Effect<JobRuntime> = Effect.map(
  // A job's own pushes join no batch of its caller's (Batch.run around a loop that runs jobs).
  Effect.locally(
    Effect.locally(Effect.runtime<never>(), FiberRef.unhandledErrorLogLevel, Option.none()),
    Client.currentBatch,
    Option.none()
  ),
  ({ fiberRefs, runtimeFlags }) => ({ fiberRefs, runtimeFlags: RuntimeFlags.enable(runtimeFlags, RuntimeFlags.Interruption) })
)

/**
 * How a runner is built.
 *
 * @since 0.2.0
 * @category models
 */
export interface JobRunnerOptions {
  /** The handlers, by jobtype (`JobHandler.collect`). */
  readonly handlers: ReadonlyMap<string, JobHandler.JobHandler>
  /** Around every job, outermost first. */
  readonly middleware?: ReadonlyArray<Middleware> | undefined
  /** The client handlers get as `Client.Client` when their layer was given none, and middleware gets. */
  readonly client: Client.Service
  /**
   * Gives handlers `client` even when their layer was given a client of its own: a test's fake
   * client must see every push (`FakeFaktory`). Default false.
   */
  readonly replaceHandlerClients?: boolean | undefined
  /**
   * Interrupt and FAIL (`ReservationExpired`) a job still running shortly before its
   * reservation runs out, when its handler asks for it. Default false.
   */
  readonly guardReservations?: boolean | undefined
  /** How long a guarded job may run, given its reservation in seconds. Default `defaultReservationLimit`. */
  readonly reservationLimit?: ((reserveForSeconds: number) => Duration.DurationInput) | undefined
}

/**
 * Runs jobs.
 *
 * @since 0.2.0
 * @category models
 */
export interface JobRunner {
  /**
   * Runs the job in a fiber of its own and completes with how it ended; never fails, whatever
   * the handler does. Interrupting the wait interrupts the job.
   */
  readonly run: (job: JobPayload.Job, runtime: JobRuntime) => Effect.Effect<Outcome>
  /** Jobs running now. */
  readonly running: () => number
  /** Sends interruption to every running job, without waiting for them to end. */
  readonly interruptAll: Effect.Effect<void>
  /**
   * Settles every job still running as `AbandonedAtShutdownError`, so that whoever waits for
   * it reports it; returns how many there were. Their fibers may go on running.
   */
  readonly abandonAll: () => number
}

/** What a handler called or a middleware returned, if it is an Effect; else the job fails saying so. */
const checked = <R>(
  returned: Effect.Effect<unknown, unknown, R>,
  jobtype: string,
  by: string | undefined
): Effect.Effect<unknown, unknown, R> => {
  if (Effect.isEffect(returned)) return returned
  const value: unknown = returned
  if (typeof value === "object" && value !== null && "catch" in value && typeof value.catch === "function") {
    // Observed, so that its rejection is not also an unhandled rejection of the process.
    Reflect.apply(value.catch, value, [() => undefined])
  }
  return Effect.fail(new NotAnEffectError({ jobtype, returned: describeReturned(value), ...(by === undefined ? {} : { by }) }))
}

const describeReturned = (value: unknown): string =>
  value === null
    ? "null"
    : value === undefined
    ? "undefined"
    : typeof value === "object" && "then" in value && typeof value.then === "function"
    ? "a Promise"
    : `a value of type ${typeof value}`

/** How long after its interruption a guarded job is given up on: as at shutdown, but within half of what is left. */
const graceFor = (seconds: number, limitMillis: number): number =>
  Math.max(0, Math.min(ABANDON_AFTER_MILLIS, (seconds * 1000 - limitMillis) / 2))

/**
 * A guarded job's deadline: what the guard watches, and the reservation its handler sees
 * (`Tracking`). An extension of the reservation the server accepted moves it as if the job had
 * been reserved that long from the start: the runner's `reservationLimit` applied to the
 * longer reservation, never earlier than before.
 */
class GuardedDeadline implements ReservationGuard.Deadline, Reservation {
  at: number
  seconds: number
  graceMillis: number
  endsAt: number
  constructor(
    readonly job: JobPayload.Job,
    /** When the reservation began, as the worker reckons it: the job's start. */
    readonly reservedAt: number,
    seconds: number,
    private readonly limitOf: (seconds: number) => number
  ) {
    const limit = limitOf(seconds)
    this.seconds = seconds
    this.at = reservedAt + limit
    this.endsAt = reservedAt + seconds * 1000
    this.graceMillis = graceFor(seconds, limit)
  }
  get jid(): string {
    return this.job.jid
  }
  extended(until: number): void {
    if (!(until > this.endsAt)) return
    const seconds = (until - this.reservedAt) / 1000
    const limit = this.limitOf(seconds)
    this.endsAt = until
    this.seconds = Math.round(seconds)
    if (this.reservedAt + limit > this.at) {
      this.at = this.reservedAt + limit
      this.graceMillis = graceFor(seconds, limit)
    }
  }
}

/**
 * Annotates a job fiber's logs with its jid and jobtype, on top of its runtime's annotations.
 * The refs it gets were made for the new fiber a moment ago (`Runtime.runFork` forks the
 * runtime's into a fresh map, and nothing else holds them yet), so the annotations go into
 * that map in place rather than into a copy of it; the stack arrays, which the parent's map
 * shares, are never changed. Measured by the allocation sampler over 20,000 no-op jobs:
 * the copy was 1.1 KB of the 17 KB the worker allocated a job. `JobFiber.test.ts` pins
 * Effect's side of this.
 */
const annotate = (job: JobPayload.Job) => (refs: FiberRefs.FiberRefs, fiberId: FiberId.Runtime) => {
  const annotations = HashMap.mutate(FiberRefs.getOrDefault(refs, FiberRef.currentLogAnnotations), (map) => {
    HashMap.set(map, "jid", job.jid)
    HashMap.set(map, "jobtype", job.jobtype)
  })
  const stack = refs.locals.get(FiberRef.currentLogAnnotations)
  const below = stack === undefined ? [] : stack[0][0] === fiberId ? stack.slice(1) : stack
  refs.locals.set(FiberRef.currentLogAnnotations, [[fiberId, annotations], ...below])
  return refs
}

/**
 * Builds a runner. Its jobs' fibers live in a scope of their own, closed without waiting when
 * the caller's scope closes: a job abandoned at shutdown would otherwise hold that scope open
 * for ever. With `guardReservations`, a guard checks running jobs' deadlines for the life of
 * the scope.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Client, Job, JobHandler, JobRunner } from "@effect-faktory/core"
 * import { NodeClient } from "@effect-faktory/node"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * // A loop of one's own: FETCH a job, run it as the worker would, send what the runner says.
 * const runOne = Effect.gen(function* () {
 *   const client = yield* Client.Client
 *   const handlers = yield* JobHandler.collect(yield* Effect.context<never>())
 *   const runner = yield* JobRunner.make({ handlers, client })
 *   const job = yield* client.fetch(["default"])
 *   if (job._tag === "None") return
 *   const outcome = yield* runner.run(job.value, yield* JobRunner.currentRuntime)
 *   yield* client.send(outcome.report.command)
 * }).pipe(Effect.scoped, Effect.provide(Ping.handle(([who]) => Effect.log(`pong ${who}`))), Effect.provide(NodeClient.layer()))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: JobRunnerOptions): Effect.Effect<JobRunner, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { handlers } = options
    const middleware = options.middleware ?? []
    const clock = yield* Effect.clock
    // Each job gets a consumer span when a tracer records them.
    const tracing = yield* Spans.isRecording
    const jobsScope = yield* Scope.make(ExecutionStrategy.sequential)
    yield* Effect.addFinalizer(() => Effect.forkDaemon(Scope.close(jobsScope, Exit.void)))
    const jobs = yield* FiberSet.make<unknown, unknown>().pipe(Scope.extend(jobsScope))

    // Every middleware is entered inside the fiber (Effect.suspend): one that throws instead
    // of returning an Effect fails its job like a handler defect would.
    const around = <R>(job: JobHandler.JobContext, handler: Effect.Effect<unknown, unknown, R>) =>
      middleware.reduceRight<Effect.Effect<unknown, unknown, R | JobHandler.CurrentJob | Client.Client>>(
        (next, wrap) => Effect.suspend(() => checked(wrap(job, next), job.jobtype, "a middleware")),
        handler
      )

    /** The handler's Effect for one job: arguments decoded, the user's function called and checked. */
    const handled = <A, R>(typed: JobHandler.Typed<A, R>, args: ReadonlyArray<unknown>, job: JobHandler.JobContext) => {
      const call = (decoded: A) => checked(typed.handler(decoded, job), job.jobtype, undefined)
      // Synchronous decoding first: it is cheaper. When it fails, the effectful decoding
      // decides, as a Schema with asynchronous parts cannot decode synchronously.
      const quick = typed.decodeSync(args)
      if (Either.isRight(quick)) return call(quick.right)
      return typed.decode(args).pipe(
        Effect.mapError((error) => new InvalidArgumentsError({ jobtype: job.jobtype, detail: JobPayload.formatIssues(error) })),
        Effect.flatMap(call)
      )
    }

    /**
     * Starts the job's fiber from the given runtime rather than forking a child: a fork
     * copies every fiber ref, and each service and annotation added would copy them again
     * (measured: four times the cost of the handler-free job itself). One runtime per job,
     * built rather than provided: the fiber starts with its services in place (providing them
     * costs more than the rest of a small job).
     */
    type Fork = (
      job: JobPayload.Job,
      runtime: JobRuntime,
      span: Tracer.Span | undefined,
      deadline: GuardedDeadline | undefined
    ) => Fiber.RuntimeFiber<unknown, unknown>
    const forkerOf = <A, R>(typed: JobHandler.Typed<A, R>): Fork => {
      // The handler's services with the runner's client, made once: each Context.add copies
      // the services' map, and a job adds only what is its own.
      const services = options.replaceHandlerClients !== true && Option.isSome(Context.getOption(typed.services, Client.Client))
        ? typed.services
        : Context.add(typed.services, Client.Client, options.client)
      return (job, runtime, span, deadline) => {
        const context = JobHandler.contextOf(job)
        // The job's own services, added to one copy of the handler's (each Context.add copies
        // the map): CurrentJob, the reservation the guard watches, the consumer span.
        const map = new Map(services.unsafeMap)
        map.set(JobHandler.CurrentJob.key, context)
        if (deadline !== undefined) map.set(JobReservation.key, deadline)
        if (span !== undefined) map.set(Tracer.ParentSpan.key, span)
        // The services of the handler's layer, plus CurrentJob and Client, which its type
        // left out: all of R, which TypeScript cannot show for a generic R; the one assertion.
        const all = Context.unsafeMake(map) as Context.Context<R | JobHandler.CurrentJob | Client.Client>
        // Everything the user wrote runs inside the fiber: a handler or middleware that
        // throws instead of returning an Effect is a defect of this job, reported like any
        // other, never an exception in the runner's own code.
        const effect = Effect.suspend(() => handled(typed, job.args, context))
        return Runtime.runFork(
          Runtime.make({ context: all, fiberRefs: runtime.fiberRefs, runtimeFlags: runtime.runtimeFlags }),
          middleware.length === 0 ? effect : around(context, effect),
          { updateRefs: annotate(job) }
        )
      }
    }
    /** Each handler with how to start its jobs' fibers, by jobtype. */
    const forkers = new Map<string, { readonly handler: JobHandler.JobHandler; readonly fork: Fork }>()
    for (const [jobtype, handler] of handlers) forkers.set(jobtype, { handler, fork: handler.use(forkerOf) })

    /**
     * How each running job's wait ends early, with the outcome to report, when the runner
     * gives up on the job (shutdown, or the guard) while its fiber may still run.
     */
    const waiting = new Map<Fiber.RuntimeFiber<unknown, unknown>, (exit: Exit.Exit<unknown, unknown>) => void>()

    const guard = ReservationGuard.make((fiber, deadline) => {
      const abandon = waiting.get(fiber)
      if (abandon === undefined) return false
      abandon(Exit.fail(
        new ReservationExpiredError({ seconds: deadline.seconds, abandonedAfterSeconds: ReservationGuard.graceSeconds(deadline) })
      ))
      return true
    })
    if (options.guardReservations === true) {
      // Deadlines are wall-clock times; the tick runs on the live clock too, whatever the
      // caller's (under a TestClock it would never come).
      yield* Effect.forever(Effect.zipRight(Effect.sleep("200 millis"), guard.tick)).pipe(
        Effect.interruptible,
        LiveClock.onLiveClock,
        Effect.forkScoped
      )
    }

    /** How long a guarded job may run, in milliseconds, for a reservation of `seconds`. */
    const limitOf = (seconds: number): number =>
      (options.reservationLimit === undefined ? undefined : reservationLimitMillis(options.reservationLimit, seconds)) ??
        defaultReservationLimitMillis(seconds)

    // The grace after the guard's interruption is as long as at shutdown, but never past half
    // of what is left of the reservation, so that the FAIL reaches the server before the
    // reservation runs out (after it, "Job not found").
    const deadlineFor = (handler: JobHandler.JobHandler, job: JobPayload.Job): GuardedDeadline | undefined => {
      if (options.guardReservations !== true || !handler.guardReservation) return undefined
      const reserved = job.reserve_for === undefined || job.reserve_for === 0 ? 1800 : job.reserve_for
      return new GuardedDeadline(job, Date.now(), Math.min(86400, Math.max(60, reserved)), limitOf)
    }

    const start = (
      { fork, handler }: { readonly handler: JobHandler.JobHandler; readonly fork: Fork },
      job: JobPayload.Job,
      runtime: JobRuntime,
      span: Tracer.Span | undefined
    ): Effect.Effect<Outcome> => {
      const deadline = deadlineFor(handler, job)
      const fiber = fork(job, runtime, span, deadline)
      const outcome = (exit: Exit.Exit<unknown, unknown>): Outcome => {
        const expired = guard.takeExpired(fiber)
        const final = expired !== undefined && Exit.isInterrupted(exit)
          ? Exit.fail(new ReservationExpiredError({ seconds: expired.seconds }))
          : exit
        const told = report(job.jid, final)
        if (span !== undefined) {
          // OpenTelemetry's conventions: a failed operation says its error's class in `error.type`.
          if (told.failure !== undefined) span.attribute("error.type", told.failure.errtype)
          span.end(clock.unsafeCurrentTimeNanos(), final)
        }
        return { exit: final, report: told }
      }
      // A handler that never suspends has already finished.
      const done = fiber.unsafePoll()
      if (done !== null) return Effect.succeed(outcome(done))
      FiberSet.unsafeAdd(jobs, fiber)
      if (deadline !== undefined) guard.watch(fiber, deadline)
      // Awaited, not joined: an interrupted job must not interrupt whoever reports it. The
      // wait also ends when the runner gives up on the job (abandonAll, the guard); one
      // callback resumes it, as Fiber.await would, with no fiber per wait.
      return Effect.async<Outcome>((resume) => {
        let settled = false
        const settle = (exit: Exit.Exit<unknown, unknown>) => {
          if (settled) return
          settled = true
          waiting.delete(fiber)
          resume(Effect.succeed(outcome(exit)))
        }
        waiting.set(fiber, settle)
        fiber.addObserver(settle)
        // Whoever waits was interrupted (a test timing out): the job stops with it.
        return Fiber.interrupt(fiber)
      })
    }

    const run = (job: JobPayload.Job, runtime: JobRuntime): Effect.Effect<Outcome> => {
      const handler = forkers.get(job.jobtype)
      if (handler === undefined) {
        const exit = Exit.fail(new UnknownJobTypeError({ jobtype: job.jobtype }))
        return Effect.succeed({ exit, report: report(job.jid, exit) })
      }
      if (!tracing) return start(handler, job, runtime, undefined)
      // The producer's trace continues here when the job carries its context.
      return Effect.flatMap(
        Effect.makeSpan(Spans.consumerName(job), Spans.consumerOptions(job)),
        (span) => start(handler, job, runtime, span)
      )
    }

    return {
      run: (job, runtime) => {
        // The runner's own code throwing (a bug of ours) is this job's failure, not the
        // caller's; a try costs nothing where an Effect.suspend would cost a step a job.
        try {
          return run(job, runtime)
        } catch (error) {
          const exit = Exit.die(error)
          return Effect.succeed({ exit, report: report(job.jid, exit) })
        }
      },
      running: () => Effect.runSync(FiberSet.size(jobs)),
      interruptAll: Effect.suspend(() => Effect.forEach(Array.from(jobs), Fiber.interruptFork, { discard: true })),
      abandonAll: () => {
        const abandoned = Array.from(waiting.values())
        const exit = Exit.fail(new AbandonedAtShutdownError({ seconds: Duration.toSeconds(ABANDON_AFTER) }))
        for (const abandon of abandoned) abandon(exit)
        return abandoned.length
      }
    } satisfies JobRunner
  })

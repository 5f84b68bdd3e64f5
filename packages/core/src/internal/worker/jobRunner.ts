/**
 * Runs fetched jobs: each in a fiber of its own, kept in the worker's `FiberSet` of jobs, so
 * that shutdown and the reservation watchdog interrupt a job alone and never the processor
 * that reports it.
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as FiberSet from "effect/FiberSet"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schema from "effect/Schema"
import type * as Tracer from "effect/Tracer"
import * as Job from "../../Job.js"
import * as DurationInput from "../durationInput.js"
import type * as JobPayload from "../../JobPayload.js"
import * as Spans from "../../Spans.js"
import * as Failure from "./failure.js"
import type * as Worker from "../../Worker.js"

/**
 * A fetched job's jobtype has no handler in this worker. errtype `UnknownJobType`.
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
 */
export class ReservationExpiredError extends Schema.TaggedError<ReservationExpiredError>()(
  "ReservationExpiredError",
  {
    seconds: Schema.Number,
    /** Set when the job ignored its interruption: how long the worker waited before giving up on it. */
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
 * How long terminate waits for interrupted jobs to end before it reports them as abandoned.
 * Interruption is near-instant for most jobs; this leaves room for their finalizers.
 */
export const ABANDON_AFTER = Duration.seconds(5)
const ABANDON_AFTER_MILLIS = Duration.toMillis(ABANDON_AFTER)

/**
 * The default reservation guard: 90% of the reservation, and at least 5 s short of it.
 */
export const defaultReservationLimit = (reserveForSeconds: number): Duration.Duration =>
  Duration.millis(defaultReservationLimitMillis(reserveForSeconds))

/** The same in milliseconds: a job's deadline is taken without a Duration made for it. */
const defaultReservationLimitMillis = (reserveForSeconds: number): number =>
  Math.max(1000, reserveForSeconds * 1000 - Math.max(5000, reserveForSeconds * 100))

/**
 * A reservation limit given as an option, in milliseconds; undefined when it throws or is not
 * a finite duration above 0. (`Worker.make` tries it at start; a job never fails for it.)
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

/** What a job fiber starts from: the processor's fiber refs (loggers, log level) and flags. */
export interface JobRuntime {
  readonly fiberRefs: FiberRefs.FiberRefs
  readonly runtimeFlags: RuntimeFlags.RuntimeFlags
}

export interface JobRunnerOptions {
  readonly handlers: ReadonlyMap<string, Job.HandlerEntry>
  readonly jobs: FiberSet.FiberSet<unknown, unknown>
  readonly middleware: ReadonlyArray<Worker.Middleware>
  readonly reservationLimit?: ((reserveForSeconds: number) => Duration.DurationInput) | undefined
  /** When a tracer records spans: each job then runs in a consumer span. */
  readonly tracing: boolean
  readonly clock: Clock.Clock
}

export interface JobRunner {
  /** Runs the job and returns its Exit; never fails, whatever the handler does. */
  readonly run: (job: JobPayload.Job, runtime: JobRuntime) => Effect.Effect<Exit.Exit<unknown, unknown>>
  /** Interrupts guarded jobs whose reservation is about to run out; runs for the worker's life. */
  readonly watchdog: Effect.Effect<never>
  /** Sends interruption to every running job, without waiting for them to end. */
  readonly interruptAll: Effect.Effect<void>
  /**
   * Settles every job still running as `AbandonedAtShutdownError`, so that its processor
   * reports it and the worker can stop; returns how many there were.
   */
  readonly abandonAll: () => number
}

interface Deadline {
  readonly at: number
  readonly seconds: number
  /**
   * How long after its interruption a job that has not stopped is given up on: FAILed while
   * its reservation still holds, so that the server retries it (see the watchdog).
   */
  readonly graceMillis: number
  readonly job: JobPayload.Job
}

/** A guarded job interrupted by the watchdog, and when it is given up on if it has not stopped. */
interface Expired {
  readonly deadline: Deadline
  readonly abandonAt: number
}

/** What a middleware returned, if it is an Effect; else the job fails saying so, as for a handler. */
const checkedMiddleware = <R>(job: Job.JobContext, returned: Effect.Effect<unknown, unknown, R>) => {
  if (Effect.isEffect(returned)) return returned
  const value: unknown = returned
  if (typeof value === "object" && value !== null && "catch" in value && typeof value.catch === "function") {
    // Observed, so that its rejection is not also an unhandled rejection of the process.
    Reflect.apply(value.catch, value, [() => undefined])
  }
  return Effect.fail(new Job.NotAnEffectError({ jobtype: job.jobtype, returned: Job.describeReturned(value), by: "a middleware" }))
}

export const make = (options: JobRunnerOptions): JobRunner => {
  const { handlers, jobs, middleware, clock, tracing } = options

  // Every middleware is entered inside the fiber (Effect.suspend): one that throws instead of
  // returning an Effect fails its job like a handler defect would.
  const around: Job.JobFiberOptions["around"] = middleware.length === 0
    ? undefined
    : (job, handler) =>
      middleware.reduceRight(
        (next, wrap) => Effect.suspend(() => checkedMiddleware(job, wrap(job, next))),
        handler
      )

  /**
   * Guarded jobs' deadlines. One watchdog checks them on a short tick, rather than a timer
   * raced against every job (measured: the race cost a quarter of a no-op job's time).
   */
  const deadlines = new Map<Fiber.RuntimeFiber<unknown, unknown>, Deadline>()
  const expired = new Map<Fiber.RuntimeFiber<unknown, unknown>, Expired>()
  const deadlineFor = (entry: Job.HandlerEntry, job: JobPayload.Job): Deadline | undefined => {
    if (!entry.guardReservation) return undefined
    const reserved = job.reserve_for === undefined || job.reserve_for === 0 ? 1800 : job.reserve_for
    const seconds = Math.min(86400, Math.max(60, reserved))
    const limit = (options.reservationLimit === undefined ? undefined : reservationLimitMillis(options.reservationLimit, seconds)) ??
      defaultReservationLimitMillis(seconds)
    // As long as at shutdown, but never past half of what is left of the reservation, so that
    // the FAIL reaches the server before the reservation runs out (after it, "Job not found").
    const graceMillis = Math.max(0, Math.min(ABANDON_AFTER_MILLIS, (seconds * 1000 - limit) / 2))
    return { at: Date.now() + limit, seconds, graceMillis, job }
  }
  const jobAnnotations = (job: JobPayload.Job) => ({ jid: Failure.quoted(job.jid), jobtype: Failure.quoted(job.jobtype) })
  /** The grace as messages say it: seconds, to a tenth. */
  const graceSeconds = (deadline: Deadline) => Math.round(deadline.graceMillis / 100) / 10
  const watchdogTick = Effect.suspend(() => {
    const now = Date.now()
    const overdue: Array<readonly [Fiber.RuntimeFiber<unknown, unknown>, Deadline]> = []
    for (const [fiber, deadline] of deadlines) {
      if (deadline.at <= now) overdue.push([fiber, deadline])
    }
    for (const [fiber, deadline] of overdue) {
      deadlines.delete(fiber)
      expired.set(fiber, { deadline, abandonAt: now + deadline.graceMillis })
    }
    // A job that ignores its interruption (an uninterruptible step) would hold its processor
    // past its reservation, and the server would hand it to another worker meanwhile: it is
    // given up on instead, like a job that ignores terminate.
    const stuck: Array<Expired> = []
    for (const [fiber, entry] of expired) {
      const abandon = waiting.get(fiber)
      if (abandon === undefined) {
        // Its wait already ended (terminate gave up on it): nothing to report here.
        expired.delete(fiber)
      } else if (entry.abandonAt <= now) {
        expired.delete(fiber)
        stuck.push(entry)
        abandon(Exit.fail(
          new ReservationExpiredError({
            seconds: entry.deadline.seconds,
            abandonedAfterSeconds: graceSeconds(entry.deadline)
          })
        ))
      }
    }
    if (overdue.length === 0 && stuck.length === 0) return Effect.void
    return Effect.zipRight(
      Effect.forEach(overdue, ([fiber, { job, seconds }]) =>
        Effect.zipRight(
          Fiber.interruptFork(fiber),
          Effect.annotateLogs(
            Effect.logWarning(`job ${Failure.quoted(job.jid)} is still running as its ${seconds} s reservation is about to run out: interrupting it`),
            jobAnnotations(job)
          )
        ), { discard: true }),
      Effect.forEach(stuck, ({ deadline }) =>
        Effect.annotateLogs(
          Effect.logWarning(
            `job ${Failure.quoted(deadline.job.jid)} did not stop within ${graceSeconds(deadline)} s of its interruption (uninterruptible?): ` +
              "it is FAILed so that the server retries it, and may still be running in this process"
          ),
          jobAnnotations(deadline.job)
        ), { discard: true })
    )
  })

  /**
   * Annotates a job fiber's logs with its jid and jobtype, on top of the worker's annotations.
   * The refs it gets were made for the new fiber a moment ago (`Runtime.runFork` forks the
   * processor's into a fresh map, and nothing else holds them yet), so the annotations go into
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
   * Starts the job's fiber from the processor's runtime (its loggers, log level, flags) rather
   * than forking a child: a fork copies every fiber ref, and each service and annotation added
   * would copy them again (measured: four times the cost of the handler-free job itself).
   */
  const start = (
    entry: Job.HandlerEntry,
    job: JobPayload.Job,
    runtime: JobRuntime,
    span: Tracer.Span | undefined
  ): Effect.Effect<Exit.Exit<unknown, unknown>> => {
    const fiber = entry.start(job.args, Job.contextOf(job), {
      fiberRefs: runtime.fiberRefs,
      runtimeFlags: runtime.runtimeFlags,
      updateRefs: annotate(job),
      span,
      around
    })
    const deadline = deadlineFor(entry, job)
    const outcome = (exit: Exit.Exit<unknown, unknown>): Exit.Exit<unknown, unknown> => {
      const final = expired.delete(fiber) && Exit.isInterrupted(exit)
        ? Exit.fail(new ReservationExpiredError({ seconds: deadline?.seconds ?? 0 }))
        : exit
      if (span !== undefined) {
        // OpenTelemetry's conventions: a failed operation says its error's class in `error.type`.
        if (Exit.isFailure(final)) span.attribute("error.type", Failure.describe(final.cause).errtype)
        span.end(clock.unsafeCurrentTimeNanos(), final)
      }
      return final
    }
    // A handler that never suspends has already finished.
    const done = fiber.unsafePoll()
    if (done !== null) return Effect.succeed(outcome(done))
    FiberSet.unsafeAdd(jobs, fiber)
    if (deadline !== undefined) {
      deadlines.set(fiber, deadline)
      fiber.addObserver(() => deadlines.delete(fiber))
    }
    // Awaited, not joined: an interrupted job must not interrupt the processor reporting it.
    // The wait also ends when terminate abandons the job (see abandonAll); one callback
    // resumes it, as Fiber.await would, with no fiber per wait.
    return Effect.async<Exit.Exit<unknown, unknown>>((resume) => {
      let settled = false
      const settle = (exit: Exit.Exit<unknown, unknown>) => {
        if (settled) return
        settled = true
        waiting.delete(fiber)
        resume(Effect.succeed(outcome(exit)))
      }
      waiting.set(fiber, settle)
      fiber.addObserver(settle)
    })
  }

  /**
   * How each running job's wait ends early, with the outcome to report, when the worker gives
   * up on the job (terminate, or the watchdog) while its fiber may still run.
   */
  const waiting = new Map<Fiber.RuntimeFiber<unknown, unknown>, (exit: Exit.Exit<unknown, unknown>) => void>()

  const run = (job: JobPayload.Job, runtime: JobRuntime): Effect.Effect<Exit.Exit<unknown, unknown>> => {
    const entry = handlers.get(job.jobtype)
    if (entry === undefined) return Effect.succeed(Exit.fail(new UnknownJobTypeError({ jobtype: job.jobtype })))
    if (!tracing) return start(entry, job, runtime, undefined)
    // The producer's trace continues here when the job carries its context (see Spans).
    return Effect.flatMap(
      Effect.makeSpan(Spans.processName(job), Spans.processOptions(job)),
      (span) => start(entry, job, runtime, span)
    )
  }

  return {
    run: (job, runtime) => {
      // The runner's own code throwing (a bug of ours) is this job's failure, not the
      // processor's; a try costs nothing where an Effect.suspend would cost a step a job.
      try {
        return run(job, runtime)
      } catch (error) {
        return Effect.succeed(Exit.die(error))
      }
    },
    watchdog: Effect.forever(Effect.zipRight(Effect.sleep("200 millis"), watchdogTick)),
    interruptAll: Effect.suspend(() => Effect.forEach(Array.from(jobs), Fiber.interruptFork, { discard: true })),
    abandonAll: () => {
      const abandoned = Array.from(waiting.values())
      const exit = Exit.fail(new AbandonedAtShutdownError({ seconds: Duration.toSeconds(ABANDON_AFTER) }))
      for (const abandon of abandoned) abandon(exit)
      return abandoned.length
    }
  }
}

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
 * Reporting is never lost to interruption: each handler runs in a fiber of its own, which
 * shutdown and the reservation guard interrupt alone; the processor that fetched the job
 * reports its outcome, retried with backoff while the server is away.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as FiberSet from "effect/FiberSet"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import * as Client from "./Client.js"
import {
  type InvalidArgumentError,
  type InvalidUrlError,
  type JobValidationError,
  ProtocolError,
  ServerError
} from "./Errors.js"
import * as Handshake from "./Handshake.js"
import type * as Resp from "./Resp.js"
import type * as Connection from "./Connection.js"
import * as Job from "./Job.js"
import * as JobPayload from "./JobPayload.js"
import * as Protocol from "./Protocol.js"
import * as Spans from "./Spans.js"
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
  JobValidationError | InvalidArgumentError | InvalidUrlError | ConfigError.ConfigError,
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
    // Queue names are checked once; each FETCH line is then only a join.
    const strictFetch = yield* Protocol.fetch(queueOrder(queues))
    const fetchCommand = (): Protocol.Command =>
      Array.isArray(queues) ? strictFetch : { verb: "FETCH", line: `FETCH ${queueOrder(queues).join(" ")}\r\n` }
    const client = yield* Client.make({
      ...options.client,
      // One connection per fetcher, one for heartbeats, one spare for reports.
      poolSize: concurrency + 2,
      worker: { wid, hostname: options.hostname ?? "unknown", pid: options.pid ?? 0, labels: options.labels ?? [] }
    })

    let state: WorkerState = "running"
    let runningJobs = 0
    let acked_ = 0
    let failed_ = 0
    let abandonReports = false
    /** Set once terminate has waited its shutdown timeout: jobs fetched after it are not started. */
    let pastDeadline = false
    const gate = yield* Effect.makeLatch(true)
    const stopped = yield* Deferred.make<void>()
    const stopping = yield* Deferred.make<void>()
    const clock = yield* Effect.clock
    // Each job gets a consumer span when a tracer records them (see Spans).
    const tracing = yield* Spans.isRecording
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
            if (outcome === "acked") acked_++
            else failed_++
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

    const around: Job.JobFiberOptions["around"] = middleware.length === 0
      ? undefined
      : (job, handler) => middleware.reduceRight((next, wrap) => wrap(job, next), handler)

    /** Job fibers still running, for shutdown to wait on or interrupt. */
    const jobs = new Set<Fiber.RuntimeFiber<unknown, unknown>>()

    /**
     * Guarded jobs' deadlines. One watchdog checks them on a short tick, rather than a timer
     * raced against every job (measured: the race cost a quarter of a no-op job's time).
     */
    const deadlines = new Map<Fiber.RuntimeFiber<unknown, unknown>, { at: number; seconds: number }>()
    const expired = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
    const guardFor = (entry: Job.HandlerEntry, job: JobPayload.Job): { at: number; seconds: number } | undefined => {
      if (!entry.guardReservation) return undefined
      const seconds = Math.min(86400, Math.max(60, job.reserve_for === undefined || job.reserve_for === 0 ? 1800 : job.reserve_for))
      const limit = options.reservationLimit?.(seconds) ?? defaultReservationLimit(seconds)
      return { at: Date.now() + Duration.toMillis(limit), seconds }
    }
    const watchdog = Effect.suspend(() => {
      const now = Date.now()
      const overdue: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (const [fiber, deadline] of deadlines) {
        if (deadline.at <= now) overdue.push(fiber)
      }
      for (const fiber of overdue) {
        deadlines.delete(fiber)
        expired.add(fiber)
      }
      return Effect.forEach(overdue, Fiber.interruptFork, { discard: true })
    })

    /** Annotates a job fiber's logs with its jid and jobtype, on top of the worker's annotations. */
    const annotate = (job: JobPayload.Job) => (refs: FiberRefs.FiberRefs, fiberId: FiberId.Runtime) => {
      const inherited = FiberRefs.getOrDefault(refs, FiberRef.currentLogAnnotations)
      const annotations = HashMap.set(HashMap.set(inherited, "jid", job.jid), "jobtype", job.jobtype)
      return FiberRefs.updateManyAs(refs, {
        forkAs: fiberId,
        entries: [[FiberRef.currentLogAnnotations, [[fiberId, annotations]]]]
      })
    }

    /**
     * Runs a job in its own fiber, so that shutdown and the reservation guard can interrupt it
     * alone, under a consumer span; returns its Exit, never a failure. The fiber is started
     * from the processor's runtime (its loggers, log level and flags) rather than forked as a
     * child: a fork copies every fiber ref, and then each service and annotation added would
     * copy them again (measured: four times the cost of the handler-free job itself).
     */
    const runJob = (
      job: JobPayload.Job,
      runtime: { readonly fiberRefs: FiberRefs.FiberRefs; readonly runtimeFlags: RuntimeFlags.RuntimeFlags }
    ): Effect.Effect<Exit.Exit<unknown, unknown>> => {
      const entry = handlers.get(job.jobtype)
      if (entry === undefined) return Effect.succeed(Exit.fail(new UnknownJobTypeError({ jobtype: job.jobtype })))
      const start = (span: Tracer.Span | undefined): Effect.Effect<Exit.Exit<unknown, unknown>> => {
        runningJobs++
        const fiber = entry.start(job.args, Job.contextOf(job), {
          fiberRefs: runtime.fiberRefs,
          runtimeFlags: runtime.runtimeFlags,
          updateRefs: annotate(job),
          span,
          around
        })
        const guard = guardFor(entry, job)
        const cleanUp = (exit: Exit.Exit<unknown, unknown>) => {
          runningJobs--
          jobs.delete(fiber)
          deadlines.delete(fiber)
          span?.end(clock.unsafeCurrentTimeNanos(), exit)
        }
        const outcome = (exit: Exit.Exit<unknown, unknown>): Exit.Exit<unknown, unknown> =>
          expired.delete(fiber) && Exit.isInterrupted(exit)
            ? Exit.fail(new ReservationExpiredError({ seconds: guard?.seconds ?? 0 }))
            : exit
        // A handler that never suspends has already finished.
        const done = fiber.unsafePoll()
        if (done !== null) {
          cleanUp(done)
          return Effect.succeed(outcome(done))
        }
        // Cleaned up as the fiber ends, whether or not its processor is still waiting for it.
        jobs.add(fiber)
        if (guard !== undefined) deadlines.set(fiber, guard)
        fiber.addObserver(cleanUp)
        // Awaited, not joined: an interrupted job must not interrupt the processor reporting it.
        return Effect.map(Fiber.await(fiber), outcome)
      }
      if (!tracing) return start(undefined)
      return Effect.flatMap(
        Effect.makeSpan(`faktory.job ${job.jobtype}`, {
          captureStackTrace: false,
          kind: "consumer",
          attributes: { "faktory.jid": job.jid, "faktory.jobtype": job.jobtype, "faktory.queue": job.queue }
        }),
        start
      )
    }

    const outcomeOf = (job: JobPayload.Job, exit: Exit.Exit<unknown, unknown>) =>
      Exit.isSuccess(exit)
        ? { command: Protocol.ack(job.jid), acked: true }
        : { command: Protocol.fail({ jid: job.jid, ...describeFailure(exit.cause) }), acked: false }

    /**
     * Reads the server's answer to an ACK or FAIL sent on a processor's connection: nothing
     * to do when it is OK (nearly always), else the warning to log.
     */
    const settle = (job: JobPayload.Job, acked: boolean, reply: Resp.Reply): Effect.Effect<void> | undefined => {
      if (acked) acked_++
      else failed_++
      if (reply._tag === "SimpleString" && reply.value === "OK") return undefined
      // "Job not found": the reservation had expired; the server runs the job again.
      return Effect.logWarning(`${acked ? "ACK" : "FAIL"} of ${job.jid} was refused: ${Handshake.describeReply(reply)}`)
    }

    /** A FETCH reply: a job, none, or the error that makes the processor back off. */
    const fetched = (reply: Resp.Reply): Effect.Effect<Option.Option<JobPayload.Job>, ServerError | ProtocolError> => {
      switch (reply._tag) {
        case "NullBulk":
          return Effect.succeed(Option.none())
        case "BulkString":
          return Either.match(JobPayload.decode(reply.value), {
            // A job that does not decode cannot be reported: its reservation will expire.
            onLeft: (error) => Effect.as(Effect.logError(error.message), Option.none()),
            onRight: (job) => Effect.succeed(Option.some(job))
          })
        case "ErrorReply":
          return Effect.fail(new ServerError({ command: "FETCH", code: reply.code, detail: reply.message }))
        case "SimpleString":
          return Effect.fail(
            new ProtocolError({ reason: "UnexpectedReply", detail: `unexpected reply to FETCH: ${Handshake.describeReply(reply)}` })
          )
      }
    }

    /**
     * One processor's loop on the connection it holds: fetch, run, and report the outcome
     * together with the next FETCH, so a job costs one round trip, not two. Returns when the
     * worker stops fetching; fails (and the processor takes a fresh connection) when the
     * connection breaks, after the outcome in hand has been reported another way.
     */
    const work = (connection: Connection.Connection, progressed: () => void) =>
      Effect.gen(function*() {
        // Jobs start from the processor's runtime (its loggers and log level), interruptible
        // whatever region the processor is in.
        const { fiberRefs, runtimeFlags } = yield* Effect.runtime<never>()
        const runtime = { fiberRefs, runtimeFlags: RuntimeFlags.enable(runtimeFlags, RuntimeFlags.Interruption) }
        let next: Option.Option<JobPayload.Job> = Option.none()
        while (true) {
          if (Option.isNone(next)) {
            yield* gate.await
            if (state === "terminating" || state === "stopped") return
            next = yield* Effect.flatMap(connection.send(fetchCommand()), fetched)
            progressed()
            continue
          }
          const job = next.value
          next = Option.none()
          if (pastDeadline) {
            // Fetched as the worker shuts down, too late to run: hand it back to the server now.
            yield* report(job, Exit.interrupt(FiberId.none))
            continue
          }
          const exit = yield* runJob(job, runtime)
          const { acked, command } = outcomeOf(job, exit)
          const commands = state === "running" ? [command, fetchCommand()] : [command]
          const replies = yield* Effect.either(connection.sendAll(commands))
          if (Either.isLeft(replies)) {
            // The connection broke: report through the pool (retried), then take a fresh one.
            yield* report(job, exit)
            return yield* replies.left
          }
          const [reportReply, fetchReply] = replies.right
          const refused = settle(job, acked, reportReply!)
          if (refused !== undefined) yield* refused
          if (fetchReply !== undefined) next = yield* fetched(fetchReply)
        }
      })

    const processor = Effect.gen(function*() {
      let failures = 0
      while (state !== "terminating" && state !== "stopped") {
        const result = yield* Effect.either(client.withConnection((connection) => work(connection, () => {
          failures = 0
        })))
        if (Either.isRight(result)) return
        if (failures === 0) yield* Effect.logWarning(`fetch failed, backing off: ${result.left.message}`)
        failures++
        yield* Effect.raceFirst(Effect.sleep(fetchBackoff(failures)), Deferred.await(stopping))
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

    // Interrupted jobs end at once; their processors then report them FAILed as Shutdown.
    const interruptJobs = Effect.suspend(() => Fiber.interruptAll([...jobs]))
    /** Completes when no job is running, including jobs started while it waits. */
    const awaitJobs: Effect.Effect<void> = Effect.suspend(() =>
      jobs.size === 0 ? Effect.void : Effect.zipRight(Fiber.awaitAll([...jobs]), awaitJobs)
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
        const finished = yield* awaitJobs.pipe(
          Effect.interruptible,
          Effect.timeout(shutdownTimeout),
          Effect.option
        )
        pastDeadline = true
        if (Option.isNone(finished) && runningJobs > 0) {
          yield* Effect.logWarning(`interrupting ${runningJobs} jobs still running; they are FAILed as Shutdown`)
          yield* interruptJobs
        }
        // Processors report what their jobs did and finish the FETCH they are in (the server
        // answers within 2 s): one interrupted mid-FETCH would strand the job the server then
        // hands to its closed socket. Reports get a bounded time if the server is away.
        yield* FiberSet.awaitEmpty(processors).pipe(Effect.interruptible, Effect.timeout("10 seconds"), Effect.ignore)
        abandonReports = true
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
    yield* Effect.forever(Effect.zipRight(Effect.sleep("200 millis"), watchdog)).pipe(Effect.interruptible, Effect.forkScoped)
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
      processed: () => ({ acked: acked_, failed: failed_ }),
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
): Layer.Layer<Worker, JobValidationError | InvalidArgumentError | InvalidUrlError | ConfigError.ConfigError, Transport> =>
  Layer.scoped(Worker, make(options))

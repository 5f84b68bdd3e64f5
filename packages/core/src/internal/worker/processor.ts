/**
 * A processor: one of the worker's `concurrency` fibers. Each holds a connection of its own and
 * loops: FETCH, run the job (through the runner), report its outcome (ACK or FAIL) in the same
 * write as the next FETCH, so a job costs one round trip.
 *
 * From the moment a FETCH is sent until the job it brought is reported, the processor is
 * uninterruptible: the server cannot take a reservation back, so a processor stopped there
 * would strand a job until its reservation expired. It is interruptible only where it holds
 * no job: waiting at the gate (quiet), backing off, and retrying a report while the server is
 * away. No failure or defect ends it: a broken connection is reported (once for all processors)
 * and retried with backoff, a bug of ours is logged with its cause, and the processor carries on.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Client from "../../Client.js"
import type * as Connection from "../../Connection.js"
import type { ProtocolError, ServerError } from "../../Errors.js"
import type * as JobPayload from "../../JobPayload.js"
import * as JobRunner from "../../JobRunner.js"
import * as Protocol from "../../Protocol.js"
import type * as Metrics from "../observability/metrics.js"
import { secondsSince } from "../observability/metrics.js"
import { quoted } from "../runner/failure.js"
import type { Lifecycle } from "./lifecycle.js"

/** A FETCH, its queues in this fetch's order. */
export type FetchCommand = Protocol.Command<Option.Option<JobPayload.Job>, Protocol.ReplyError>

/** What a processor works with: the worker's state and the commands it needs. */
export interface ProcessorOptions {
  readonly client: Client.Service
  readonly runner: JobRunner.JobRunner
  readonly lifecycle: Lifecycle
  /** The next FETCH (weighted queues draw their order per fetch). */
  readonly fetchCommand: () => FetchCommand
  readonly recorders: Metrics.Recorders
  /**
   * What jobs start from: the runtime of whoever made the worker (its loggers, log level,
   * clock), not the processor's, which runs on the live clock.
   */
  readonly jobRuntime: JobRunner.JobRuntime
}

/** Retries for ACK/FAIL while the server is away: 200 ms doubling, at most 5 s apart. */
const reportRetry = Schedule.exponential("200 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered
)

/** Between failed fetches: 100 ms doubling to 10 s, jittered. */
const fetchBackoff = (failures: number) =>
  Duration.millis(Math.min(10_000, 100 * 2 ** Math.min(failures, 10)) * (0.5 + Math.random()))

const jobAnnotations = (job: JobPayload.Job) => ({
  jid: quoted(job.jid),
  jobtype: quoted(job.jobtype),
  queue: quoted(job.queue ?? "default"),
  retry_count: job.failure === undefined ? 0 : job.failure.retry_count + 1
})

/**
 * Every FAIL gets a WARN line, with fields a JSON logger keeps; at DEBUG, its cause as the
 * server gets it (the backtrace, a line a part). Nothing in them is longer than the report's
 * bound: a job can fail with a message of megabytes, and fails again on every retry.
 */
const logFailure = (job: JobPayload.Job, failure: JobRunner.FailureReport) =>
  Effect.logWarning(`job failed: ${failure.errtype}: ${failure.message}`).pipe(
    Effect.zipRight(failure.backtrace.length > 0 ? Effect.logDebug(...failure.backtrace) : Effect.void),
    Effect.annotateLogs({ ...jobAnnotations(job), errtype: failure.errtype })
  )

/** A job's start and end at DEBUG, for workers that log at that level. */
const logStart = (job: JobPayload.Job) => Effect.logDebug("job started").pipe(Effect.annotateLogs(jobAnnotations(job)))

const logEnd = (job: JobPayload.Job, outcome: JobRunner.Outcome, seconds: number) => {
  const failure = outcome.report.failure
  return Effect.logDebug(
    `job ${
      failure === undefined
        ? "succeeded"
        : Exit.isInterrupted(outcome.exit)
        ? `interrupted (${failure.errtype})`
        : `failed (${failure.errtype})`
    } in ${(seconds * 1000).toFixed(1)} ms`
  ).pipe(Effect.annotateLogs(jobAnnotations(job)))
}

const verbOf = (report: JobRunner.Report) => (report.failure === undefined ? "ACK" : "FAIL")

/** The same command, its refusal a value: only the connection's failure fails it. */
const settled = <A, E>(command: Protocol.Command<A, E>): Protocol.Command<Either.Either<A, E>> => ({
  verb: command.verb,
  line: command.line,
  reply: (reply) => Either.right(command.reply(reply))
})

export const make = (options: ProcessorOptions): Effect.Effect<void> => {
  const { client, fetchCommand, jobRuntime, lifecycle, recorders, runner } = options
  const { gate, outage } = lifecycle
  // Read once: a job's start and end lines cost nothing while DEBUG is off.
  const debug = LogLevel.lessThanEqual(
    FiberRefs.getOrDefault(jobRuntime.fiberRefs, FiberRef.currentMinimumLogLevel),
    LogLevel.Debug
  )

  /** An outcome the server accepted: the worker's counters and the metrics. */
  const counted = (job: JobPayload.Job, report: JobRunner.Report) => {
    const errtype = report.failure?.errtype
    lifecycle.recordReport(job.jid, job, report.failure)
    const recorder = recorders.forJob(job.jobtype, job.queue ?? "default")
    if (errtype === undefined) recorder.acked()
    else recorder.failed(errtype)
  }

  /** A report the server refused ("Job not found": the reservation had expired), said. */
  const refused = (job: JobPayload.Job, report: JobRunner.Report, error: Protocol.ReplyError) =>
    Effect.logWarning(`${verbOf(report)} of ${quoted(job.jid)} was refused: ${error.message}`)

  /** A report sent through the pool, retried while the server is away, when the processor's connection broke. */
  const reportViaPool = (
    job: JobPayload.Job,
    report: JobRunner.Report,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  ) =>
    Effect.flatMap(
      client.send(report.command).pipe(
        Effect.retry({ schedule: reportRetry, while: (error) => error._tag === "ConnectionError" }),
        // Retrying is where a processor may be interrupted: terminate gives up on a server that
        // stays away past its bounded wait, and the report is lost; that is said, never silent.
        restore,
        Effect.onInterrupt(() =>
          Effect.sync(lifecycle.recordUnreported).pipe(
            Effect.zipRight(Effect.logWarning(
              `gave up reporting ${verbOf(report)} of ${quoted(job.jid)} at shutdown: the server is away; ` +
                "it will run the job again once its reservation expires"
            )),
            Effect.annotateLogs({ jid: quoted(job.jid), jobtype: quoted(job.jobtype) })
          )
        ),
        Effect.either
      ),
      (result) => {
        if (Either.isRight(result)) {
          counted(job, report)
          return Effect.void
        }
        return Effect.logWarning(
          `could not report ${verbOf(report)} of ${quoted(job.jid)}: ${result.left.message}; ` +
            "the server will run the job again once its reservation expires"
        )
      }
    )

  /**
   * A FETCH's reading: a job, or none. A job that does not decode is FAILed at once when it
   * has a jid (it could never run here), rather than left to wait out its reservation; other
   * refusals fail the processor's round, which backs off and tries again.
   */
  const fetched = (
    connection: Connection.Connection,
    result: Either.Either<Option.Option<JobPayload.Job>, ServerError | ProtocolError | Connection.SendError>
  ): Effect.Effect<Option.Option<JobPayload.Job>, ServerError | ProtocolError | Connection.SendError> => {
    if (Either.isRight(result)) return Effect.succeed(result.right)
    const error = result.left
    if (error._tag !== "ProtocolError" || error.reason !== "MalformedPayload") return Effect.fail(error)
    const jid = error.jid
    const logged = Effect.logError(`${quoted(error.message)}${jid !== undefined ? "; FAILed as MalformedJob" : ""}`)
    if (jid === undefined) return Effect.as(logged, Option.none())
    const failure: JobRunner.FailureReport = { errtype: "MalformedJob", message: quoted(error.message), backtrace: [] }
    const fail = Protocol.fail({ jid, ...failure })
    return logged.pipe(
      Effect.zipRight(connection.send(settled(fail))),
      Effect.map((told) => {
        if (Either.isRight(told)) {
          lifecycle.recordReport(jid, undefined, failure)
          // Its jobtype and queue could not be read.
          recorders.forJob("unknown", "unknown").failed("MalformedJob")
        }
        return Option.none()
      })
    )
  }

  /**
   * The loop on one connection. Returns when the worker stops fetching; fails when the
   * connection breaks, after the outcome in hand has been reported through the pool.
   */
  const work = (
    connection: Connection.Connection,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    progressed: () => void,
    self: object
  ) =>
    Effect.gen(function*() {
      let next: Option.Option<JobPayload.Job> = Option.none()
      while (true) {
        if (Option.isNone(next)) {
          yield* restore(gate.await)
          const phase = lifecycle.phase()
          if (phase !== "running" && phase !== "quiet") return
          const fetchedAt = performance.now()
          next = yield* fetched(connection, yield* Effect.either(connection.send(fetchCommand())))
          recorders.fetchLatency(secondsSince(fetchedAt))
          // Back only once a FETCH is answered as it should be: a server shutting down answers
          // with errors (ERR redis: client is closed), which are the outage, not its end.
          progressed()
          lifecycle.progressed()
          yield* outage.recovered(self)
          continue
        }
        const job = next.value
        next = Option.none()
        const recorder = recorders.forJob(job.jobtype, job.queue ?? "default")
        recorder.fetched()
        let outcome: JobRunner.Outcome
        let seconds = 0
        if (lifecycle.phase() === "pastDeadline") {
          // Fetched after the shutdown timeout (its FETCH was in flight): too late to run.
          const exit = Exit.interrupt(FiberId.none)
          outcome = { exit, report: JobRunner.report(job.jid, exit) }
        } else {
          if (debug) yield* logStart(job)
          recorders.running(1)
          const startedAt = performance.now()
          outcome = yield* runner.run(job, jobRuntime)
          seconds = secondsSince(startedAt)
          recorders.running(-1)
          recorder.ran(seconds)
        }
        const report = outcome.report
        if (debug) yield* logEnd(job, outcome, seconds)
        if (report.failure !== undefined) yield* logFailure(job, report.failure)
        // The report's reading, set the moment its reply arrives (in the socket's callback),
        // and counted then; absent while it is owed.
        const delivery: { told?: Either.Either<void, Protocol.ReplyError> } = {}
        const onReport = (result: Either.Either<void, Protocol.ReplyError>) => {
          delivery.told = result
          if (Either.isRight(result)) counted(job, report)
        }
        const fetch = lifecycle.phase() === "running" ? fetchCommand() : undefined
        const sentAt = performance.now()
        const sent = yield* Effect.either(
          fetch === undefined
            ? Effect.map(connection.send(settled(report.command)), (result) => {
              onReport(result)
              return undefined
            })
            : connection.sendPair(report.command, fetch, onReport)
        )
        const told = delivery.told
        if (told === undefined) {
          // The connection broke before the report's reply: report through the pool (retried),
          // then take a fresh connection. The outage is said now, not once the report got
          // through, after the server is back.
          if (Either.isLeft(sent)) yield* outage.failed(self, sent.left)
          yield* reportViaPool(job, report, restore)
          return yield* (Either.isLeft(sent) ? Effect.fail(sent.left) : Effect.void)
        }
        if (Either.isLeft(told)) yield* refused(job, report, told.left)
        if (Either.isLeft(sent)) return yield* Effect.fail(sent.left)
        if (sent.right !== undefined) {
          // Sent with the report, in the same write: its latency includes the report's.
          recorders.fetchLatency(secondsSince(sentAt))
          next = yield* fetched(connection, sent.right[1])
        }
      }
    })

  return Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      // This processor, to the outage's bookkeeping (the effect runs once per processor).
      const self = {}
      let failures = 0
      while (true) {
        const phase = lifecycle.phase()
        if (phase !== "running" && phase !== "quiet") return
        const exit = yield* Effect.exit(
          client.withConnection((connection) => work(connection, restore, () => (failures = 0), self))
        )
        if (Exit.isSuccess(exit)) return
        if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure)) {
          yield* outage.failed(self, failure.value)
        } else {
          yield* Effect.logError("a processor failed; it carries on", exit.cause)
        }
        failures++
        yield* restore(Effect.raceFirst(Effect.sleep(fetchBackoff(failures)), Deferred.await(lifecycle.stopping)))
      }
    })
  )
}

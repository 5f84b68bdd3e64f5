/**
 * A processor: one of the worker's `concurrency` fibers. Each holds a connection of its own and
 * loops: FETCH, run the job, report its outcome (ACK or FAIL) in the same write as the next
 * FETCH, so a job costs one round trip.
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
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schedule from "effect/Schedule"
import type * as Client from "../../Client.js"
import type * as Connection from "../../Connection.js"
import type { CommandError, ProtocolError, ServerError } from "../../Errors.js"
import type * as JobPayload from "../../JobPayload.js"
import * as Protocol from "../../Protocol.js"
import * as Replies from "../../Replies.js"
import type * as Resp from "../../Resp.js"
import type * as Metrics from "../metrics.js"
import { secondsSince } from "../metrics.js"
import * as Failure from "./failure.js"
import type * as JobRunner from "./jobRunner.js"

/**
 * The worker's life in finer steps than its public state: `draining` is terminate waiting for
 * running jobs, `pastDeadline` after its shutdown timeout, when jobs still arriving are FAILed
 * as `Shutdown` without running.
 */
export type Phase = "running" | "quiet" | "draining" | "pastDeadline" | "stopped"

/** A FETCH, its queues in this fetch's order. */
export type FetchCommand = Protocol.Command<Option.Option<JobPayload.Job>, Protocol.ReplyError>

/** The worker's side of the processors: its state as they need to see it, and its counters. */
export interface ProcessorContext {
  readonly client: Client.Service
  readonly runner: JobRunner.JobRunner
  /** Open while the worker fetches; closed while it is quiet. */
  readonly gate: Effect.Latch
  /** Where the worker is in its life; processors read it before and after each job. */
  readonly phase: () => Phase
  /** Completes when terminate begins; ends backoff waits early. */
  readonly stopping: Deferred.Deferred<void>
  readonly fetchCommand: () => FetchCommand
  /**
   * Counts an outcome the server accepted (its errtype when FAILed): the one place the
   * worker's counters change.
   */
  readonly recordReport: (acked: boolean, errtype: string | undefined) => void
  /** Counts a report given up on (the server stayed away past terminate's bounded wait). */
  readonly recordUnreported: () => void
  readonly outage: Outage
  readonly recorders: Metrics.Recorders
}

/**
 * One WARN when the server becomes unreachable and one INFO when it is back, for all
 * processors together (before: one warning per processor per outage, 20 at the default
 * concurrency).
 *
 * An outage lasts until every processor that failed in it has fetched again: the WARN comes
 * with the first failure, the INFO with the first processor back, and a processor of the
 * outage that fails again before its own first fetch says nothing more. Before, a processor
 * whose connection broke while it held a job's report said so only once the report had got
 * through the pool, after the server was back: the WARN came late, and such a processor coming
 * after another one was back began a second outage, a second WARN and INFO moments after the
 * first INFO (measured: in 9 of 15 restarts of a busy worker).
 */
export interface Outage {
  /** `processor` failed: the first failure of an outage is logged. */
  readonly failed: (processor: object, error: CommandError) => Effect.Effect<void>
  /** `processor` fetched: the first processor back after an outage is logged. */
  readonly recovered: (processor: object) => Effect.Effect<void>
  /** Whether the server is away now (other parts keep quiet about it meanwhile). */
  readonly isDown: () => boolean
}

export const makeOutage = (address: string): Outage => {
  // The processors that failed in the current outage and have not fetched since.
  const failing = new Set<object>()
  let down = false
  return {
    failed: (processor, error) =>
      Effect.suspend(() => {
        const begins = failing.size === 0
        failing.add(processor)
        if (!begins) return Effect.void
        down = true
        return Effect.logWarning(
          `cannot fetch from ${address}: ${error.message}; every processor retries with backoff (0.1 s doubling to 10 s)`
        )
      }),
    recovered: (processor) =>
      Effect.suspend(() => {
        if (!failing.delete(processor) || !down) return Effect.void
        down = false
        return Effect.logInfo(`fetching from ${address} again`)
      }),
    isDown: () => down
  }
}

/** Retries for ACK/FAIL while the server is away: 200 ms doubling, at most 5 s apart. */
const reportRetry = Schedule.exponential("200 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered
)

/** Between failed fetches: 100 ms doubling to 10 s, jittered. */
const fetchBackoff = (failures: number) =>
  Duration.millis(Math.min(10_000, 100 * 2 ** Math.min(failures, 10)) * (0.5 + Math.random()))

interface Report {
  readonly command: Protocol.Command<void, Protocol.ReplyError>
  readonly acked: boolean
  readonly failure: Failure.FailureReport | undefined
}

const reportOf = (job: JobPayload.Job, exit: Exit.Exit<unknown, unknown>): Report => {
  if (Exit.isSuccess(exit)) return { command: Protocol.ack(job.jid), acked: true, failure: undefined }
  const failure = Failure.describe(exit.cause)
  return { command: Protocol.fail({ jid: job.jid, ...failure }), acked: false, failure }
}

/**
 * Every FAIL gets a WARN line, with fields a JSON logger keeps; at DEBUG, its cause as the
 * server gets it (the backtrace, a line a part). Nothing in them is longer than the report's
 * bound: a job can fail with a message of megabytes, and fails again on every retry.
 */
const logFailure = (job: JobPayload.Job, failure: Failure.FailureReport) =>
  Effect.logWarning(`job failed: ${failure.errtype}: ${failure.message}`).pipe(
    Effect.zipRight(failure.backtrace.length > 0 ? Effect.logDebug(...failure.backtrace) : Effect.void),
    Effect.annotateLogs({ ...jobAnnotations(job), errtype: failure.errtype })
  )

/** A job's start and end at DEBUG, for workers that log at that level. */
const logStart = (job: JobPayload.Job) =>
  Effect.logDebug("job started").pipe(Effect.annotateLogs(jobAnnotations(job)))

const logEnd = (job: JobPayload.Job, exit: Exit.Exit<unknown, unknown>, report: Report, seconds: number) =>
  Effect.logDebug(
    `job ${
      report.failure === undefined
        ? "succeeded"
        : Exit.isInterrupted(exit)
        ? `interrupted (${report.failure.errtype})`
        : `failed (${report.failure.errtype})`
    } in ${(seconds * 1000).toFixed(1)} ms`
  ).pipe(Effect.annotateLogs(jobAnnotations(job)))

const { quoted } = Failure

const jobAnnotations = (job: JobPayload.Job) => ({
  jid: quoted(job.jid),
  jobtype: quoted(job.jobtype),
  queue: quoted(job.queue ?? "default"),
  retry_count: job.failure === undefined ? 0 : job.failure.retry_count + 1
})

export const make = (context: ProcessorContext): Effect.Effect<void> => {
  const { client, runner, gate, outage, recorders } = context

  /** An outcome the server accepted: the worker's counters and the metrics. */
  const counted = (job: JobPayload.Job, report: Report) => {
    const errtype = report.failure?.errtype
    context.recordReport(report.acked, errtype)
    const recorder = recorders.forJob(job.jobtype, job.queue ?? "default")
    if (errtype === undefined) recorder.acked()
    else recorder.failed(errtype)
  }

  /** Counts a report the server accepted; runs in the socket's callback as its reply arrives. */
  const countIfAccepted = (job: JobPayload.Job, report: Report, reply: Resp.Reply): void => {
    if (Either.isRight(report.command.reply(reply))) counted(job, report)
  }

  /** What to say of a report the server refused ("Job not found": the reservation had expired). */
  const refusal = (job: JobPayload.Job, report: Report, reply: Resp.Reply): Effect.Effect<void> | undefined => {
    const verdict = report.command.reply(reply)
    if (Either.isRight(verdict)) return undefined
    return Effect.logWarning(`${report.acked ? "ACK" : "FAIL"} of ${quoted(job.jid)} was refused: ${verdict.left.message}`)
  }

  /** A report sent through the pool, retried while the server is away, when the processor's connection broke. */
  const reportViaPool = (job: JobPayload.Job, report: Report, restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
    Effect.flatMap(
      (report.acked ? client.ack(job.jid) : client.fail({ jid: job.jid, ...(report.failure ?? Failure.describe(Cause.empty)) })).pipe(
        Effect.retry({ schedule: reportRetry, while: (error) => error._tag === "ConnectionError" }),
        // Retrying is where a processor may be interrupted: terminate gives up on a server that
        // stays away past its bounded wait, and the report is lost; that is said, never silent.
        restore,
        Effect.onInterrupt(() =>
          Effect.sync(context.recordUnreported).pipe(
            Effect.zipRight(Effect.logWarning(
              `gave up reporting ${report.acked ? "ACK" : "FAIL"} of ${quoted(job.jid)} at shutdown: the server is away; ` +
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
          `could not report ${report.acked ? "ACK" : "FAIL"} of ${quoted(job.jid)}: ${result.left.message}; ` +
            "the server will run the job again once its reservation expires"
        )
      }
    )

  /**
   * A FETCH reply: a job, or none. A job that does not decode is FAILed at once when it has a
   * jid (it could never run here), rather than left to wait out its reservation.
   */
  const readFetch = (
    connection: Connection.Connection,
    fetch: FetchCommand,
    reply: Resp.Reply
  ): Effect.Effect<Option.Option<JobPayload.Job>, ServerError | ProtocolError | CommandError> => {
    const read = fetch.reply(reply)
    if (Either.isRight(read)) return Effect.succeed(read.right)
    const error = read.left
    if (error._tag !== "ProtocolError" || error.reason !== "MalformedPayload") return Effect.fail(error)
    const jid = Replies.jidOf(reply)
    const logged = Effect.logError(`${quoted(error.message)}${Option.isSome(jid) ? "; FAILed as MalformedJob" : ""}`)
    if (Option.isNone(jid)) return Effect.as(logged, Option.none())
    const fail = Protocol.fail({ jid: jid.value, errtype: "MalformedJob", message: quoted(error.message), backtrace: [] })
    return logged.pipe(
      Effect.zipRight(connection.send(fail)),
      Effect.tap((failReply) =>
        Either.isRight(fail.reply(failReply))
          ? Effect.sync(() => {
            context.recordReport(false, "MalformedJob")
            // Its jobtype and queue could not be read.
            recorders.forJob("unknown", "unknown").failed("MalformedJob")
          })
          : Effect.void
      ),
      Effect.as(Option.none())
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
      // Jobs start from the processor's runtime (its loggers and log level), interruptible
      // whatever region the processor is in.
      // The worker reports a failed job itself (WARN, its cause at DEBUG): the runtime's own
      // "Fiber terminated with an unhandled error" line for the job's fiber would repeat it.
      const { fiberRefs, runtimeFlags } = yield* Effect.locally(
        Effect.runtime<never>(),
        FiberRef.unhandledErrorLogLevel,
        Option.none()
      )
      const jobRuntime = { fiberRefs, runtimeFlags: RuntimeFlags.enable(runtimeFlags, RuntimeFlags.Interruption) }
      // Read once: a job's start and end lines cost nothing while DEBUG is off.
      const debug = LogLevel.lessThanEqual(
        FiberRefs.getOrDefault(fiberRefs, FiberRef.currentMinimumLogLevel),
        LogLevel.Debug
      )
      let next: Option.Option<JobPayload.Job> = Option.none()
      while (true) {
        if (Option.isNone(next)) {
          yield* restore(gate.await)
          const phase = context.phase()
          if (phase !== "running" && phase !== "quiet") return
          const fetch = context.fetchCommand()
          const fetchedAt = performance.now()
          const reply = yield* connection.send(fetch)
          recorders.fetchLatency(secondsSince(fetchedAt))
          next = yield* readFetch(connection, fetch, reply)
          // Back only once a FETCH is answered as it should be: a server shutting down answers
          // with errors (ERR redis: client is closed), which are the outage, not its end.
          progressed()
          yield* outage.recovered(self)
          continue
        }
        const job = next.value
        next = Option.none()
        const recorder = recorders.forJob(job.jobtype, job.queue ?? "default")
        recorder.fetched()
        // Fetched after the shutdown timeout (its FETCH was in flight): too late to run.
        let exit: Exit.Exit<unknown, unknown>
        let seconds = 0
        if (context.phase() === "pastDeadline") {
          exit = Exit.interrupt(FiberId.none)
        } else {
          if (debug) yield* logStart(job)
          recorders.running(1)
          const startedAt = performance.now()
          exit = yield* runner.run(job, jobRuntime)
          seconds = secondsSince(startedAt)
          recorders.running(-1)
          recorder.ran(seconds)
        }
        const report = reportOf(job, exit)
        if (debug) yield* logEnd(job, exit, report, seconds)
        if (report.failure !== undefined) yield* logFailure(job, report.failure)
        const fetch = context.phase() === "running" ? context.fetchCommand() : undefined
        const sentAt = performance.now()
        const count = (reply: Resp.Reply) => countIfAccepted(job, report, reply)
        const sent = yield* Effect.either(
          fetch !== undefined
            ? connection.sendBoth(report.command, fetch, count)
            : Effect.map(
              connection.send(report.command),
              (reply): readonly [Resp.Reply, Resp.Reply | undefined] => {
                count(reply)
                return [reply, undefined]
              }
            )
        )
        if (Either.isLeft(sent)) {
          // The connection broke: report through the pool (retried), then take a fresh one.
          // The outage is said now, not once the report got through, after the server is back.
          yield* outage.failed(self, sent.left)
          yield* reportViaPool(job, report, restore)
          return yield* sent.left
        }
        const [reportReply, fetchReply] = sent.right
        const refused = refusal(job, report, reportReply)
        if (refused !== undefined) yield* refused
        if (fetch !== undefined && fetchReply !== undefined) {
          // Sent with the report, in the same write: its latency includes the report's.
          recorders.fetchLatency(secondsSince(sentAt))
          next = yield* readFetch(connection, fetch, fetchReply)
        }
      }
    })

  return Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      // This processor, to the outage's bookkeeping (the effect runs once per processor).
      const self = {}
      let failures = 0
      while (true) {
        const phase = context.phase()
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
        yield* restore(Effect.raceFirst(Effect.sleep(fetchBackoff(failures)), Deferred.await(context.stopping)))
      }
    })
  )
}

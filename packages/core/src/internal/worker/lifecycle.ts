/**
 * The worker's lifecycle and state, held in one place: where it is in its life (the phase), the gate its
 * processors wait at while it is quiet, the signals of its shutdown, the counts of the reports
 * the server accepted, and whether the server is away. The processors get this value; they
 * never call back into the worker.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Stream from "effect/Stream"
import type { CommandError } from "../../Errors.js"
import type * as JobPayload from "../../JobPayload.js"
import type { FailureReport } from "../../JobRunner.js"

/**
 * The worker's life in finer steps than its public state: `draining` is terminate waiting for
 * running jobs, `pastDeadline` after its shutdown timeout, when jobs still arriving are FAILed
 * as `Shutdown` without running.
 */
export type Phase = "running" | "quiet" | "draining" | "pastDeadline" | "stopped"

/** Reports the server accepted, and those given up on. */
export interface Counts {
  readonly acked: number
  readonly failed: number
  /** FAILed as `Shutdown`: interrupted, or not run, at shutdown. */
  readonly interrupted: number
  /** Given up on because the server stayed away past shutdown's bounded wait. */
  readonly unreported: number
}

/**
 * Hears of each report the server accepted: the job (undefined for one that could not be read,
 * FAILed as `MalformedJob`) and, for a FAIL, what it said.
 */
export type ReportListener = (jid: string, job: JobPayload.Job | undefined, failure: FailureReport | undefined) => void

/**
 * One WARN when the server becomes unreachable and one INFO when it is back, for all
 * processors together (one warning per processor per outage would be 20 at the default
 * concurrency).
 *
 * An outage lasts until every processor that failed in it has fetched again: the WARN comes
 * with the first failure, the INFO with the first processor back, and a processor of the
 * outage that fails again before its own first fetch says nothing more. A processor whose
 * report is still being retried through the pool comes back later than the others; counted as
 * a new outage, it made a second WARN and INFO moments after the first INFO (measured: in 9 of
 * 15 restarts of a busy worker).
 */
export interface Outage {
  /** `processor` failed: the first failure of an outage is logged. */
  readonly failed: (processor: object, error: CommandError) => Effect.Effect<void>
  /** `processor` fetched: the first processor back after an outage is logged. */
  readonly recovered: (processor: object) => Effect.Effect<void>
  /** Whether the server is away now (other parts keep quiet about it meanwhile). */
  readonly isDown: () => boolean
}

export interface Lifecycle {
  /** The phase now, without a fiber step: processors read it twice a job. */
  readonly phase: () => Phase
  /** The phase, then each change of it. */
  readonly phases: Stream.Stream<Phase>
  /** Moves to the phase `f` gives for the current one, with `f`'s result. */
  readonly transition: <A>(f: (current: Phase) => readonly [A, Phase]) => Effect.Effect<A>
  /** Open while the worker fetches; closed while it is quiet. */
  readonly gate: Effect.Latch
  /** Completed when terminate begins: waits and backoffs end early. */
  readonly stopping: Deferred.Deferred<void>
  /** Completed when the worker has stopped. */
  readonly stopped: Deferred.Deferred<void>
  /** Completed by terminateNow: terminate's waits end at once. */
  readonly hurried: Deferred.Deferred<void>
  /**
   * Counts an outcome the server accepted (a FAIL when `failure` is given), and tells the
   * listeners; with none, that costs one size check.
   */
  readonly recordReport: (jid: string, job: JobPayload.Job | undefined, failure: FailureReport | undefined) => void
  /** Whoever subscribed to the reports (`Worker.subscribeReports`); empty unless a test listens. */
  readonly reportListeners: Set<ReportListener>
  /** Counts a report given up on. */
  readonly recordUnreported: () => void
  readonly counts: () => Counts
  readonly outage: Outage
  /** A processor made progress: a FETCH answered (a report accepted counts by itself). */
  readonly progressed: () => void
  /** When a processor last made progress (`performance.now()`: monotonic, whatever the clock). */
  readonly lastProgress: () => number
}

const makeOutage = (address: string): Outage => {
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

/** A worker's state as it starts: running, the gate open, nothing counted; `address` names the server in outage lines. */
export const make = (address: string): Effect.Effect<Lifecycle> =>
  Effect.gen(function*() {
    const ref = yield* SubscriptionRef.make<Phase>("running")
    // The ref's value as of its last change, written only inside `transition`, in the same
    // synchronous step as the ref.
    let now: Phase = "running"
    const counts = { acked: 0, failed: 0, interrupted: 0, unreported: 0 }
    const reportListeners = new Set<ReportListener>()
    // Start counts as progress: a worker is not stuck before its first FETCH is answered.
    let lastProgress = performance.now()
    return {
      phase: () => now,
      phases: ref.changes,
      transition: (f) =>
        SubscriptionRef.modify(ref, (current) => {
          const [result, next] = f(current)
          now = next
          return [result, next]
        }),
      gate: yield* Effect.makeLatch(true),
      stopping: yield* Deferred.make<void>(),
      stopped: yield* Deferred.make<void>(),
      hurried: yield* Deferred.make<void>(),
      recordReport: (jid, job, failure) => {
        lastProgress = performance.now()
        if (failure === undefined) counts.acked++
        else {
          counts.failed++
          if (failure.errtype === "Shutdown") counts.interrupted++
        }
        if (reportListeners.size > 0) for (const listener of reportListeners) listener(jid, job, failure)
      },
      reportListeners,
      recordUnreported: () => {
        counts.unreported++
      },
      counts: () => ({ ...counts }),
      outage: makeOutage(address),
      progressed: () => {
        lastProgress = performance.now()
      },
      lastProgress: () => lastProgress
    } satisfies Lifecycle
  })

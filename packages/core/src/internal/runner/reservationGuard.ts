/**
 * The reservation guard: interrupts a guarded job still running shortly before its
 * reservation runs out, before the server hands it to another worker, and gives up on one
 * that ignores the interruption while its reservation still holds. One guard checks every
 * deadline on a short tick, rather than a timer raced against every job (measured: the race
 * cost a quarter of a no-op job's time).
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as JobPayload from "../../JobPayload.js"
import { quoted } from "./failure.js"

type JobFiber = Fiber.RuntimeFiber<unknown, unknown>

export interface Deadline {
  readonly at: number
  /** The reservation, in seconds. */
  readonly seconds: number
  /**
   * How long after its interruption a job that has not stopped is given up on: FAILed while
   * its reservation still holds, so that the server retries it.
   */
  readonly graceMillis: number
  readonly job: JobPayload.Job
}

/** A guarded job the guard interrupted, and when it is given up on if it has not stopped. */
interface Expired {
  readonly deadline: Deadline
  readonly abandonAt: number
}

export interface ReservationGuard {
  /** Guards a job's fiber until it ends. */
  readonly watch: (fiber: JobFiber, deadline: Deadline) => void
  /** The deadline of a job the guard interrupted, taken off its books; undefined for any other. */
  readonly takeExpired: (fiber: JobFiber) => Deadline | undefined
  /** One check of every deadline: interrupts what is due, gives up on what ignored it. */
  readonly tick: Effect.Effect<void>
}

/** The grace as messages say it: seconds, to a tenth. */
export const graceSeconds = (deadline: Deadline): number => Math.round(deadline.graceMillis / 100) / 10

const jobAnnotations = (job: JobPayload.Job) => ({ jid: quoted(job.jid), jobtype: quoted(job.jobtype) })

/**
 * A guard. `abandon` ends the wait for a job that ignored its interruption (so that it is
 * reported), and says whether a wait was still there to end.
 */
export const make = (abandon: (fiber: JobFiber, deadline: Deadline) => boolean): ReservationGuard => {
  const deadlines = new Map<JobFiber, Deadline>()
  const expired = new Map<JobFiber, Expired>()

  const tick = Effect.suspend(() => {
    const now = Date.now()
    const overdue: Array<readonly [JobFiber, Deadline]> = []
    for (const [fiber, deadline] of deadlines) {
      if (deadline.at <= now) overdue.push([fiber, deadline])
    }
    for (const [fiber, deadline] of overdue) {
      deadlines.delete(fiber)
      expired.set(fiber, { deadline, abandonAt: now + deadline.graceMillis })
    }
    // A job that ignores its interruption (an uninterruptible step) would hold whoever waits
    // for it past its reservation, and the server would hand it to another worker meanwhile:
    // it is given up on instead, like a job that ignores terminate.
    const stuck: Array<Expired> = []
    for (const [fiber, entry] of expired) {
      if (entry.abandonAt > now) continue
      expired.delete(fiber)
      // No wait left to end: shutdown gave up on the job already, and said so.
      if (abandon(fiber, entry.deadline)) stuck.push(entry)
    }
    if (overdue.length === 0 && stuck.length === 0) return Effect.void
    return Effect.zipRight(
      Effect.forEach(overdue, ([fiber, { job, seconds }]) =>
        Effect.zipRight(
          Fiber.interruptFork(fiber),
          Effect.annotateLogs(
            Effect.logWarning(
              `job ${quoted(job.jid)} is still running as its ${seconds} s reservation is about to run out: interrupting it`
            ),
            jobAnnotations(job)
          )
        ), { discard: true }),
      Effect.forEach(stuck, ({ deadline }) =>
        Effect.annotateLogs(
          Effect.logWarning(
            `job ${quoted(deadline.job.jid)} did not stop within ${graceSeconds(deadline)} s of its interruption (uninterruptible?): ` +
              "it is FAILed so that the server retries it, and may still be running in this process"
          ),
          jobAnnotations(deadline.job)
        ), { discard: true })
    )
  })

  return {
    watch: (fiber, deadline) => {
      deadlines.set(fiber, deadline)
      fiber.addObserver(() => deadlines.delete(fiber))
    },
    takeExpired: (fiber) => {
      const entry = expired.get(fiber)
      if (entry === undefined) return undefined
      expired.delete(fiber)
      return entry.deadline
    },
    tick
  }
}

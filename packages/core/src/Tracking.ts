/**
 * Faktory Enterprise job tracking: a job reports its progress, anyone reads its state, and a
 * long job extends its own reservation.
 *
 * **Extending a reservation moves the worker's own guard.** A worker interrupts and FAILs a
 * guarded job shortly before its reservation runs out (`reservationLimit`), so that the
 * server does not hand the job to another worker while it still runs. When a handler extends
 * its reservation with `extendReservation` (or `set` with `reserveUntil`) and the server
 * accepts it, the guard's deadline moves with it: the job runs on past the old deadline, and
 * is interrupted, if it still runs, shortly before the new end. Where the server refuses
 * (open-source Faktory), the guard keeps its deadline, and the error says so.
 *
 * - opt a job in with `track: true` on its definition (`Job.define`) or per push (`.with`);
 *   untracked jobs read as `unknown`;
 * - `status(jid)`: the job's state (`unknown`, `enqueued`, `working`, `success`, `failed`,
 *   `dead`), its last reported percent and description, and when it last changed. The server
 *   keeps it about 30 minutes after the job ends;
 * - inside a handler: `progress(percent, description)`, `extendReservation(until)`, and
 *   `deadline` (when the guard will interrupt the job).
 *
 * Every function here needs a `Client` in context (a handler has the worker's; a script gets
 * the default client with `DefaultClient.layer`). Against
 * open-source Faktory each command fails with `EnterpriseRequiredError`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job, Tracking } from "@effect-faktory/core"
 *
 * const Export = Job.define("Export", { args: Schema.Tuple(Schema.Number), track: true, reserveFor: 600 })
 *
 * const Handlers = Export.handle(([rows]) =>
 *   Effect.gen(function* () {
 *     for (let done = 0; done < rows; done += 1000) {
 *       yield* Tracking.progress((done / rows) * 100, `${done} of ${rows} rows`)
 *       // A slow stretch ahead: ten more minutes from now, and the guard moves with it.
 *       if (done === 50_000) yield* Tracking.extendReservation("10 minutes")
 *     }
 *   })
 * )
 *
 * // Anywhere else, with a Client:
 * const watch = (jid: string) => Effect.map(Tracking.status(jid), (status) => `${status.state} ${status.percent}`)
 * ```
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Client, type EnterpriseError } from "./Client.js"
import type { JobStatus } from "./Enterprise.js"
import { EnterpriseRequiredError, InvalidArgumentError } from "./Errors.js"
import { JobReservation } from "./internal/job/reservation.js"
import * as DurationInput from "./internal/shared/durationInput.js"
import { CurrentJob } from "./JobHandler.js"

/**
 * What `set` reports about a job; every field is optional.
 *
 * @since 0.2.0
 * @category models
 */
export interface Update {
  /** How far the job is, 0 to 100 (a fraction is cut to a whole number: 99.6 is 99). */
  readonly percent?: number | undefined
  /** What it is doing now. */
  readonly description?: string | undefined
  /**
   * Extend the job's reservation until then: later than now, at most 24 h ahead. The server
   * never shortens a reservation. From the job's own handler this moves the worker's guard.
   */
  readonly reserveUntil?: Date | undefined
}

/**
 * What the tracking commands fail with: a bad argument (nothing sent), the open-source
 * server's refusal, or the command's failure.
 *
 * @since 0.2.0
 * @category models
 */
export type TrackingError = InvalidArgumentError | EnterpriseError

/**
 * A job's tracking state (`TRACK GET`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tracking } from "@effect-faktory/core"
 *
 * const done = Effect.map(Tracking.status("f7APFzrS2RZi9eaA"), (status) => status.state === "success")
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const status = (jid: string): Effect.Effect<JobStatus, TrackingError, Client> =>
  Effect.flatMap(Client, (client) => client.trackGet(jid))

/**
 * Reports a job's progress and extends its reservation (`TRACK SET`). Refused with
 * `InvalidArgumentError`, nothing sent, for a percent outside 0–100 or a reservation end that
 * is past or more than 24 h ahead. Called from the job's own handler, an extension the server
 * accepted moves the worker's reservation guard; refused, the guard keeps its deadline.
 *
 * @example
 * ```ts
 * import { Tracking } from "@effect-faktory/core"
 *
 * const report = Tracking.set("f7APFzrS2RZi9eaA", { percent: 40, description: "uploading" })
 * ```
 *
 * @since 0.2.0
 * @category reporting
 */
export const set = (jid: string, update: Update): Effect.Effect<void, TrackingError, Client> =>
  Effect.flatMap(Client, (client) => {
    const sent = client.trackSet({ jid, ...update })
    const until = update.reserveUntil
    if (until === undefined) return sent
    // The job's own reservation, when this is its handler's fiber (or one it forked).
    return Effect.flatMap(Effect.serviceOption(JobReservation), (own) => {
      const reservation = Option.filter(own, (r) => r.jid === jid)
      if (Option.isNone(reservation)) return sent
      const guarded = reservation.value
      return sent.pipe(
        Effect.tap(() => Effect.sync(() => guarded.extended(until.getTime()))),
        Effect.catchTag("EnterpriseRequiredError", (refused) =>
          Effect.fail(
            new EnterpriseRequiredError({
              feature: "extending a job's reservation (TRACK SET reserve_until)",
              detail: `${refused.detail}; the reservation was not extended, and the worker still interrupts the job at ` +
                `${new Date(guarded.at).toISOString()}, shortly before its reservation runs out`
            })
          ))
      )
    })
  })

/**
 * Inside a handler: reports the running job's progress, `percent` from 0 to 100 (a fraction is
 * cut to a whole number) and what it is doing. The job must be tracked (`track: true`) for `status` to show
 * it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job, Tracking } from "@effect-faktory/core"
 *
 * const Resize = Job.define("Resize", { args: Schema.Tuple(Schema.String), track: true })
 * const Handlers = Resize.handle(([file]) => Tracking.progress(50, `resizing ${file}`))
 * ```
 *
 * @since 0.2.0
 * @category reporting
 */
export const progress = (
  percent: number,
  description?: string
): Effect.Effect<void, TrackingError, CurrentJob | Client> =>
  Effect.flatMap(CurrentJob, (job) => set(job.jid, description === undefined ? { percent } : { percent, description }))

/**
 * Inside a handler: extends the running job's reservation until `until` (a time, or a duration
 * from now), at most 24 h ahead, and **moves the worker's reservation guard with it**: the job
 * is no longer interrupted at the old deadline, but shortly before the new end, as the worker's
 * `reservationLimit` says for a reservation that long. A time before the reservation's current
 * end changes nothing (the server never shortens one). Where the server refuses (open-source
 * Faktory: `EnterpriseRequiredError`), the guard keeps its deadline and the error says when it
 * falls. A job need not be tracked to extend its reservation.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job, Tracking } from "@effect-faktory/core"
 *
 * const Transcode = Job.define("Transcode", { args: Schema.Tuple(Schema.String), reserveFor: 300 })
 * const Handlers = Transcode.handle(([file]) =>
 *   Effect.gen(function* () {
 *     yield* Tracking.extendReservation("2 hours") // a long file: keep it reserved
 *     yield* Effect.log(`transcoding ${file}`)
 *   })
 * )
 * ```
 *
 * @since 0.2.0
 * @category reservations
 */
export const extendReservation = (
  until: Date | Duration.DurationInput
): Effect.Effect<void, TrackingError, CurrentJob | Client> =>
  Effect.flatMap(CurrentJob, (job) => {
    if (until instanceof Date) return set(job.jid, { reserveUntil: until })
    const millis = Option.map(DurationInput.decode(until), Duration.toMillis)
    if (Option.isNone(millis) || !Number.isFinite(millis.value) || millis.value <= 0) {
      return Effect.fail(
        new InvalidArgumentError({
          command: "TRACK SET",
          detail: `extendReservation's ${DurationInput.describe(until)} is not a duration above 0 (${DurationInput.howToWrite})`
        })
      )
    }
    return set(job.jid, { reserveUntil: new Date(Date.now() + millis.value) })
  })

/**
 * Inside a handler: when the worker's reservation guard will interrupt the running job, if it
 * still runs then; none for a job no guard watches (`guardReservation: false`, or run by
 * `@effect-faktory/testing`'s fake). Moves when the job extends its reservation.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Tracking } from "@effect-faktory/core"
 *
 * // Extend only when the guard is less than a minute away.
 * const keepGoing = Effect.flatMap(Tracking.deadline, (deadline) =>
 *   Option.isSome(deadline) && deadline.value.getTime() - Date.now() < 60_000
 *     ? Tracking.extendReservation("10 minutes")
 *     : Effect.void
 * )
 * ```
 *
 * @since 0.2.0
 * @category reservations
 */
export const deadline: Effect.Effect<Option.Option<Date>> = Effect.map(
  Effect.serviceOption(JobReservation),
  Option.map((reservation) => new Date(reservation.at))
)

/**
 * The running job's reservation as the worker's guard sees it, for the handler: the runner
 * provides it in a guarded job's context, so that `Tracking` can read the guard's deadline and
 * move it when the server has accepted an extension of the reservation. Absent for a job that
 * no guard watches (the fake, `guardReservation: false`).
 *
 * @internal
 */
import * as Context from "effect/Context"

/** @internal */
export interface Reservation {
  /** The job it is the reservation of. */
  readonly jid: string
  /** When the guard interrupts the job (epoch milliseconds). */
  readonly at: number
  /** When the server's reservation runs out, as the worker reckons it (epoch milliseconds). */
  readonly endsAt: number
  /**
   * The server accepted `reserve_until` at `until` (epoch milliseconds): the guard's deadline
   * moves as it would have for a reservation that long from the start, and never earlier. An
   * end before the current one changes nothing (the server never shortens a reservation).
   */
  readonly extended: (until: number) => void
}

/** @internal */
export class JobReservation extends Context.Tag("@effect-faktory/core/JobReservation")<JobReservation, Reservation>() {}

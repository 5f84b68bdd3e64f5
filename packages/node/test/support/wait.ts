// Waiting, in node's tests, for something another fiber or process does.
import { Effect, Schedule } from "effect"

/**
 * Waits until `condition` holds, looking every 20 ms for `seconds`; then dies saying `what`
 * did not happen.
 */
export const waitFor = (what: string, condition: () => boolean, seconds = 15) =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.orElse(() => Effect.dieMessage(`timed out after ${seconds} s waiting for: ${what}`))
  )

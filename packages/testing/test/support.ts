/**
 * What the testing package's tests need more than once: a Faktory server with a client of
 * it, waiting for something to happen, and the processes still using a server's directory.
 */
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Schedule } from "effect"
import { execFileSync } from "node:child_process"

/** A Faktory server for the test file, without its Web UI, and a `Client` of it. */
export const Env = FaktoryServer.clientLayer().pipe(Layer.provideMerge(FaktoryServer.layer({ webUi: false })))

/**
 * Waits until `condition` holds, looking every 20 ms for `seconds`; then dies saying `what`
 * did not happen.
 */
export const waitFor = (what: string, condition: () => boolean, seconds = 15) =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.orElse(() => Effect.dieMessage(`timed out after ${seconds} s waiting for: ${what}`))
  )

/** The processes (`pgrep -af`) whose command line names `directory`; "" when there are none. */
export const processesUsing = (directory: string): string => {
  try {
    return execFileSync("pgrep", ["-af", directory], { encoding: "utf8" }).trim()
  } catch {
    return ""
  }
}

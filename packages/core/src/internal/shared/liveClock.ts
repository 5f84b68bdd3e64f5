/**
 * The library's own timers run on real time, whatever clock the caller has installed.
 *
 * Effect keeps the clock among a fiber's default services, and `@effect/vitest`'s `it.effect`
 * and `layer(...)` replace it with the `TestClock`, which moves only when a test adjusts it. A
 * worker, a client and a connection talk to a real server over real sockets: their reply and
 * handshake timeouts, connect retries and deadline, heartbeats, backoffs and shutdown waits
 * must pass in real time, or under a `TestClock` a heartbeat never comes and a shutdown waits
 * for ever. Code of the caller's (a job's handler) keeps the caller's clock.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/** A clock of the kind Effect's default services hold: `Date.now`, `performance.now`, `setTimeout`. */
export const liveClock: Clock.Clock = Clock.make()

/**
 * `self` with the live clock, and so every fiber it forks. Applied once to a long-lived fiber
 * or a rare step (a connect), never per job or per command.
 */
export const onLiveClock = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.withClock(self, liveClock)

/**
 * A bounded pool of connections, each lent to one user at a time. Connections are opened
 * lazily, reused while healthy, and dropped when broken; failed connects are retried with
 * exponential, jittered backoff. The pool runs no timers of its own, so an idle pool never
 * keeps a process alive.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { Connection } from "./Connection.js"
import type { AuthenticationError, ConnectionError, ProtocolError } from "./Errors.js"

/**
 * What opening a connection can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type OpenError = ConnectionError | AuthenticationError | ProtocolError

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectionPool {
  /** Runs `f` with a connection lent for its duration. */
  readonly use: <A, E, R>(
    f: (connection: Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | OpenError, R>
  /** Connections open now, lent or idle. */
  readonly openCount: () => number
}

/**
 * How the pool is built.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionPoolOptions {
  /** Opens one connection in the given scope. */
  readonly open: Effect.Effect<Connection, OpenError, Scope.Scope>
  /** Most connections open at once. */
  readonly size: number
  /** Retries of a failed connect; only transient failures are retried. */
  readonly retry?: Schedule.Schedule<unknown, OpenError> | undefined
}

/**
 * The default connect retry: up to 4 retries, 100 ms doubling, jittered, each wait at most
 * 2 s (about 1.5 s in all). Long enough to ride out a server restart's gap, short enough that
 * a producer learns promptly that the server is down.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetry: Schedule.Schedule<unknown, OpenError> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(4))
)

/**
 * Connect failures worth another try: the server may be restarting or at its limit. Bad
 * passwords, TLS failures and protocol errors will not fix themselves.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "@effect-faktory/core"
 * import { ConnectionPool } from "@effect-faktory/core"
 *
 * ConnectionPool.isTransient(new ConnectionError({ reason: "Refused", address: "localhost:7419", detail: "" })) // true
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient = (error: OpenError): boolean =>
  error._tag === "ConnectionError" && error.reason !== "Tls" && error.reason !== "Unknown"

interface Entry {
  readonly connection: Connection
  readonly scope: Scope.CloseableScope
}

/**
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { Connection, ConnectionPool, FaktoryUrl, Protocol } from "@effect-faktory/core"
 *
 * const url = Either.getOrThrow(FaktoryUrl.parse("tcp://localhost:7419"))
 * const program = Effect.gen(function* () {
 *   const pool = yield* ConnectionPool.make({ open: Connection.make({ url }), size: 4 })
 *   return yield* pool.use((connection) => connection.send(Protocol.info))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: ConnectionPoolOptions): Effect.Effect<ConnectionPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    // The pool's own scope, made now: connections opened later close when the pool closes,
    // not before finalizers the caller adds after creating the pool (a worker's terminate).
    const poolScope = yield* Effect.flatMap(Effect.scope, (scope) => Scope.fork(scope, ExecutionStrategy.sequential))
    const permits = yield* Effect.makeSemaphore(options.size)
    const idle: Array<Entry> = []
    let open = 0

    const discard = (entry: Entry) =>
      Effect.suspend(() => {
        open--
        return Scope.close(entry.scope, Exit.void)
      })

    const openOne = Effect.gen(function*() {
      const scope = yield* Scope.fork(poolScope, ExecutionStrategy.sequential)
      const connection = yield* options.open.pipe(
        Scope.extend(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      open++
      return { connection, scope }
    }).pipe(
      Effect.retry({ schedule: options.retry ?? defaultRetry, while: isTransient }),
      // Opening runs inside acquireUseRelease's uninterruptible acquire; connecting and its
      // backoff must still honour deadlines and interruption (the child scope is closed then).
      Effect.interruptible
    )

    const acquire: Effect.Effect<Entry, OpenError> = Effect.suspend(() => {
      const entry = idle.pop()
      if (entry === undefined) return openOne
      return entry.connection.isOpen() ? Effect.succeed(entry) : Effect.zipRight(discard(entry), acquire)
    })

    const release = (entry: Entry) =>
      Effect.suspend(() => {
        if (entry.connection.isOpen() && entry.connection.inFlight() === 0) {
          idle.push(entry)
          return Effect.void
        }
        // A reply may still be owed (its user was interrupted): the connection cannot be reused safely.
        return discard(entry)
      })

    return {
      use: (f) => permits.withPermits(1)(Effect.acquireUseRelease(acquire, (entry) => f(entry.connection), release)),
      openCount: () => open
    } satisfies ConnectionPool
  })

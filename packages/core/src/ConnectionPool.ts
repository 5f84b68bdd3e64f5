/**
 * A bounded set of connections, shared by pipelining. Most commands are answered quickly, so
 * they are sent on the open connection with the fewest commands in flight, and several
 * callers pipeline on one connection; a new connection is opened only while every open one
 * is busy. Commands that block the server side (FETCH waits up to 2 s) borrow a connection
 * exclusively, so nothing queues behind them.
 *
 * Connections are opened lazily, dropped when broken, and failed connects are retried with
 * exponential, jittered backoff, all attempts within one connect deadline. The pool runs no
 * timers while idle, so an idle pool never keeps a process alive.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { Connection } from "./Connection.js"
import { type AuthenticationError, ConnectionError, type ProtocolError } from "./Errors.js"
import { connectionInUse as inUse } from "./internal/observability/metrics.js"
import * as LiveClock from "./internal/shared/liveClock.js"
import type * as Protocol from "./Protocol.js"

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
  /** Runs `f` with a connection no one else uses meanwhile (for blocking commands). */
  readonly useExclusive: <A, E, R>(
    f: (connection: Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | OpenError, R>
  /**
   * Sends one command on a shared connection (pipelined with other callers' commands) and
   * reads its reply as the command says, with no fiber steps around the command when an open
   * connection is at hand (the common case), which is most of a push's cost.
   */
  readonly send: <A, E>(command: Protocol.Command<A, E>) => Effect.Effect<A, E | OpenError>
  /** Whether no shared command awaits its reply and no connection is being opened. */
  readonly isIdle: () => boolean
  /** Connections open now. */
  readonly openCount: () => number
  /** Commands awaiting their replies on each open connection, for diagnostics. */
  readonly inFlight: () => ReadonlyArray<number>
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
  /**
   * The most time opening one connection may take, every attempt and every wait between
   * them included. Default `defaultConnectDeadline` (10 s); `Duration.infinity` lets the
   * retry schedule alone decide.
   */
  readonly connectDeadline?: Duration.DurationInput | undefined
  /** The server's `host:port`, for the error when the deadline passes. */
  readonly address?: string | undefined
}

/**
 * The default bound on opening one connection, all attempts included: one attempt's full
 * connect and handshake timeouts (5 s each by default) fit, and a server that accepts
 * connections but never answers fails a command after 10 s rather than after five handshake
 * timeouts.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultConnectDeadline: Duration.Duration = Duration.seconds(10)

/**
 * The default connect retry: up to 4 retries, 100 ms doubling, jittered, each wait at most
 * 2 s (about 1.5 s of waiting in all). Long enough to ride out a server restart's gap, short
 * enough that a producer learns promptly that the server is down. The attempts themselves
 * take time too: all of it is bounded by the pool's `connectDeadline`.
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
 * import { ConnectionError, ConnectionPool } from "@effect-faktory/core"
 *
 * ConnectionPool.isTransient(new ConnectionError({ reason: "Refused", address: "localhost:7419", detail: "" })) // true
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient = (error: OpenError): boolean =>
  error._tag === "ConnectionError" && error.reason !== "Tls" && error.reason !== "Unknown"

const deadlinePassed = (
  deadline: Duration.Duration,
  attempts: number,
  lastFailure: OpenError | undefined,
  fallbackAddress: string
): ConnectionError =>
  new ConnectionError({
    reason: "Timeout",
    address: lastFailure?._tag === "ConnectionError" ? lastFailure.address : fallbackAddress,
    detail: `no connection within the connect deadline of ${Duration.toMillis(deadline)} ms (${attempts} ${
      attempts === 1 ? "attempt" : "attempts"
    }${lastFailure === undefined ? "" : `; the last that failed: ${lastFailure.message}`})`
  })

interface Entry {
  readonly connection: Connection
  readonly scope: Scope.CloseableScope
  /** Borrowed exclusively. */
  lent: boolean
  /** Shared users right now (their commands may be queued, not yet written). */
  users: number
}

/**
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { Connection, ConnectionPool, FaktoryUrl, Protocol, Transport } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const url = Either.getOrThrow(FaktoryUrl.parse("tcp://localhost:7419"))
 * const program = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   const open = Effect.provideService(Connection.make({ url }), Transport.Transport, transport)
 *   const pool = yield* ConnectionPool.make({ open, size: 4 })
 *   return yield* pool.send(Protocol.info)
 * }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer))
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
    const size = Math.max(1, options.size)
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const entries: Array<Entry> = []
    /** Connections being opened; they count against the size. */
    let opening = 0
    /** Completed when a connection is returned or dropped while someone waits for one. */
    let changed: Deferred.Deferred<void> | undefined = undefined
    const signal = () => {
      const waiters = changed
      if (waiters === undefined) return
      changed = undefined
      Deferred.unsafeDone(waiters, Exit.void)
    }

    const drop = (entry: Entry) =>
      Effect.suspend(() => {
        const index = entries.indexOf(entry)
        if (index === -1) return Effect.void
        entries.splice(index, 1)
        signal()
        return Scope.close(entry.scope, Exit.void)
      })

    const deadline = Duration.decode(options.connectDeadline ?? defaultConnectDeadline)
    const openOne = Effect.suspend(() => {
      // The failures so far, for the error when the deadline passes during a later attempt.
      let attempts = 0
      let lastFailure: OpenError | undefined = undefined
      const attempt = Effect.gen(function*() {
        attempts++
        const scope = yield* Scope.fork(poolScope, ExecutionStrategy.sequential)
        const connection = yield* options.open.pipe(
          Scope.extend(scope),
          Effect.onError(() => Scope.close(scope, Exit.void))
        )
        const entry: Entry = { connection, scope, lent: false, users: 0 }
        entries.push(entry)
        return entry
      }).pipe(Effect.tapError((error) => Effect.sync(() => (lastFailure = error))))
      const retried = Effect.retry(attempt, { schedule: options.retry ?? defaultRetry, while: isTransient })
      return Duration.isFinite(deadline)
        ? Effect.timeoutFail(retried, {
          duration: deadline,
          onTimeout: () => deadlinePassed(deadline, attempts, lastFailure, options.address ?? "-")
        })
        : retried
    }).pipe(
      Effect.ensuring(Effect.sync(() => {
        opening--
        signal()
      })),
      // Callers may be inside uninterruptible regions; connecting and its backoff must still
      // honour deadlines and interruption (the child scope is closed then).
      Effect.interruptible,
      // The retry schedule and the deadline pass in real time, whatever clock the caller has
      // (a handler's push under the TestClock would otherwise wait for it for ever).
      LiveClock.onLiveClock
    )

    /** Drops broken connections (they may break while idle). */
    const prune = Effect.suspend(() => {
      const broken = entries.filter((entry) => !entry.connection.isOpen() && !entry.lent && entry.users === 0)
      return broken.length === 0 ? Effect.void : Effect.forEach(broken, drop, { discard: true })
    })

    const room = () => entries.length + opening < size

    /** Waits for a connection to come back; interruptible, as nothing is held yet. */
    const awaitChange = Effect.zipRight(
      prune,
      // Pruning may itself have made room (every connection of a full pool broke while idle,
      // as when the server restarts): its signal went to no one, so look again at once rather
      // than wait for a change that has already happened (that wait never ended).
      Effect.interruptible(Effect.suspend(() =>
        room() ? Effect.void : Deferred.await(changed ??= Deferred.unsafeMake<void>(FiberId.none))
      ))
    )

    /** The open connection with the fewest users, if sharing it beats opening another. */
    const takeShared = (): Entry | undefined => {
      let best: Entry | undefined = undefined
      for (const entry of entries) {
        if (entry.lent || !entry.connection.isOpen()) continue
        if (best === undefined || entry.users < best.users) best = entry
      }
      // Share a busy connection only when no other may be opened, nor is being opened: a
      // burst on a fresh pool would otherwise pile onto the first connection to open (measured:
      // 100 PUSHB commands ran at a third of the speed they reach spread over ten).
      if (best === undefined || (best.users > 0 && (room() || opening > 0))) return undefined
      if (best.users++ === 0) inUse(1)
      return best
    }

    const acquireShared: Effect.Effect<Entry, OpenError> = Effect.suspend(() => {
      const taken = takeShared()
      if (taken !== undefined) return Effect.succeed(taken)
      if (room()) {
        opening++
        return Effect.map(openOne, (entry) => {
          if (entry.users++ === 0) inUse(1)
          return entry
        })
      }
      return Effect.zipRight(awaitChange, acquireShared)
    })

    const acquireExclusive: Effect.Effect<Entry, OpenError> = Effect.suspend(() => {
      const idle = entries.find((entry) => !entry.lent && entry.users === 0 && entry.connection.isOpen())
      if (idle !== undefined) {
        idle.lent = true
        inUse(1)
        return Effect.succeed(idle)
      }
      if (room()) {
        opening++
        return Effect.map(openOne, (entry) => {
          entry.lent = true
          inUse(1)
          return entry
        })
      }
      return Effect.zipRight(awaitChange, acquireExclusive)
    })

    /**
     * `releaseShared` from a reply's callback; a broken connection is dropped by a fiber of its
     * own, forked on the pool's runtime (its logger and tracer), not the default one.
     */
    const release = (entry: Entry) => {
      if (--entry.users === 0) inUse(-1)
      if (entry.connection.isOpen() || entry.users > 0) return signal()
      runFork(drop(entry))
    }

    /** Sends on a connection already counted as used; the count drops as the reply arrives. */
    const sendOn = <A, E>(
      entry: Entry,
      command: Protocol.Command<A, E>,
      onResult: (result: Either.Either<A, E | OpenError>) => void
    ) =>
      entry.connection.unsafeSend(command, (result) => {
        release(entry)
        onResult(result)
      })

    /**
     * When a connection must be opened or waited for. Uninterruptible from taking the
     * connection to writing the command, so the use is counted exactly as long as the
     * connection owes the reply; the wait itself stays interruptible.
     */
    const sendSlowly = <A, E>(command: Protocol.Command<A, E>): Effect.Effect<A, E | OpenError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(acquireShared, (entry) => {
          const reply = Deferred.unsafeMake<A, E | OpenError>(FiberId.none)
          sendOn(entry, command, (result) =>
            Deferred.unsafeDone(reply, Either.isRight(result) ? Exit.succeed(result.right) : Exit.fail(result.left)))
          return restore(Deferred.await(reply))
        })
      )

    // Taking the connection and writing happen in one synchronous step: nothing can interrupt
    // between them. An interrupted caller leaves the connection counted as used until the
    // reply it is owed arrives, so no one else queues behind it meanwhile.
    const send: ConnectionPool["send"] = <A, E>(command: Protocol.Command<A, E>) =>
      Effect.async<A, E | OpenError>((resume) => {
        const entry = takeShared()
        if (entry === undefined) return resume(sendSlowly(command))
        // An Either is an Effect: the reply or the failure, as is.
        sendOn(entry, command, resume)
      })

    const releaseExclusive = (entry: Entry) =>
      Effect.suspend(() => {
        entry.lent = false
        inUse(-1)
        // A reply may still be owed (its user was interrupted): the connection cannot be reused safely.
        if (!entry.connection.isOpen() || entry.connection.inFlight() > 0) return drop(entry)
        signal()
        return Effect.void
      })

    return {
      send,
      useExclusive: (f) => Effect.acquireUseRelease(acquireExclusive, (entry) => f(entry.connection), releaseExclusive),
      isIdle: () => opening === 0 && entries.every((entry) => entry.users === 0),
      openCount: () => entries.length,
      inFlight: () => entries.map((entry) => entry.connection.inFlight())
    } satisfies ConnectionPool
  })

/**
 * One connection to a Faktory server, as a scoped resource: open the socket, read `HI`,
 * answer `HELLO`, then carry commands. Commands may be pipelined: the server answers each
 * connection strictly in order, so every command appends a reply slot to a FIFO and the
 * reader completes the oldest slot with each reply, read by the command's own reader. This is
 * where callbacks stop: what `send` returns is the command's typed value or error. On release
 * the connection says `END` and closes.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as MutableList from "effect/MutableList"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { AuthenticationError, ConnectionError, ProtocolError } from "./Errors.js"
import type { FaktoryUrl } from "./FaktoryUrl.js"
import { describeReply } from "./internal/wire/describeReply.js"
import * as Spans from "./internal/observability/spans.js"
import * as LiveClock from "./internal/shared/liveClock.js"
import * as Handshake from "./internal/wire/handshake.js"
import type * as Protocol from "./Protocol.js"
import * as Resp from "./internal/wire/resp.js"
import { type SocketFailure, Transport, type TlsOptions } from "./Transport.js"

/**
 * How to open a connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions {
  readonly url: FaktoryUrl
  /** TLS settings; TLS is used when the URL's scheme is `tcp+tls`. */
  readonly tls?: TlsOptions | undefined
  /** Registers the connection as a worker (it must then BEAT). Producers leave this out. */
  readonly worker?: Protocol.WorkerIdentity | undefined
  /** TCP/TLS connect deadline. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Deadline for HI, HELLO and OK. Default 5 seconds (the server allows 2). */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
  /**
   * How long the oldest command may wait for its reply before the connection is declared
   * dead. Must exceed the 2 s a FETCH blocks. Default 15 seconds.
   */
  readonly replyTimeout?: Duration.DurationInput | undefined
  readonly decoder?: Resp.DecoderOptions | undefined
}

/**
 * What sending on a connection can fail with, besides what the command's reply stands for:
 * the connection broke or timed out, or the server sent bytes that are no reply.
 *
 * @since 0.2.0
 * @category models
 */
export type SendError = ConnectionError | ProtocolError

/**
 * An open, authenticated connection.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Connection, FaktoryUrl, Protocol } from "@effect-faktory/core"
 *
 * const info = Effect.gen(function* () {
 *   const url = yield* FaktoryUrl.fromEnv
 *   const connection = yield* Connection.make({ url })
 *   return yield* connection.send(Protocol.info)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** `host:port` of the server. */
  readonly address: string
  /**
   * Sends a command and reads its reply as the command says: its value, or the typed error
   * the reply stands for. Safe to call concurrently: replies are matched in order.
   */
  readonly send: <A, E>(command: Protocol.Command<A, E>) => Effect.Effect<A, E | SendError>
  /**
   * Sends two commands in one write and completes with both readings, each as an `Either`
   * (a refusal of one does not hide the other); it fails only when the connection does.
   * `onFirst` sees the first's reading the moment its reply arrives, in the socket's callback:
   * the worker sends a job's ACK or FAIL with its next FETCH, one round trip and one wake-up a
   * job, and counts the report when its own reply arrives, not up to 2 s later with the
   * FETCH's (measured: resuming the fiber for each reply cost a second wake-up a job).
   */
  readonly sendPair: <A, E, B, F>(
    first: Protocol.Command<A, E>,
    second: Protocol.Command<B, F>,
    onFirst?: (result: Either.Either<A, E>) => void
  ) => Effect.Effect<readonly [Either.Either<A, E>, Either.Either<B, F>], SendError>
  /**
   * The callback form of `send`, for code below the fibers that keeps its own bookkeeping
   * around a command (the pool): `onResult` is called once, with the reading of the reply or
   * the connection's failure.
   */
  readonly unsafeSend: <A, E>(
    command: Protocol.Command<A, E>,
    onResult: (result: Either.Either<A, E | SendError>) => void
  ) => void
  /** `true` until the connection is closed or broken. */
  readonly isOpen: () => boolean
  /** Commands written whose replies have not arrived. */
  readonly inFlight: () => number
  /** Closes the connection now, failing commands still in flight. */
  readonly close: Effect.Effect<void>
  /** Completes with the error that closed the connection. */
  readonly closed: Effect.Effect<SendError>
}

const closedByClient = "the connection was closed by the client"

interface ReplySlot {
  /** Called with the reply (a no-op once the caller was interrupted). */
  readonly onReply: (reply: Resp.Reply) => void
  /** Called instead when the connection fails first. */
  readonly onError: (error: SendError) => void
  readonly verb: string
  readonly sentAt: number
  /** The connection's `stalledMillis` when the command was sent. */
  readonly stalledAtSend: number
}

/** A timer this late means the event loop was not running; 0.5 s is far above ordinary jitter. */
const lateTimerToleranceMillis = 500

/**
 * Runs `f` after the event loop's next poll phase, in which it reads what sockets hold: Node
 * runs timers before that phase, `setImmediate` callbacks after it.
 */
const afterPoll = (f: () => void): void => {
  if (typeof setImmediate === "function") setImmediate(f)
  else setTimeout(f, 0)
}

const errnoCode = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  return typeof cause.code === "string" ? cause.code : undefined
}

/**
 * Maps a socket failure after the connection opened onto a `ConnectionError`.
 *
 * @example
 * ```ts
 * import { Socket } from "@effect/platform"
 * import { Connection } from "@effect-faktory/core"
 *
 * Connection.fromSocketError(new Socket.SocketCloseError({ reason: "Close", code: 1006 }), "localhost:7419")
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const fromSocketError = (error: SocketFailure, address: string): ConnectionError => {
  if (error.reason === "Close") {
    return new ConnectionError({ reason: "Closed", address, detail: "the server closed the connection" })
  }
  const code = errnoCode(error.cause)
  if (code === "ETIMEDOUT") {
    return new ConnectionError({ reason: "Timeout", address, detail: "the socket timed out", cause: error.cause })
  }
  if (code !== undefined && (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL"))) {
    return new ConnectionError({ reason: "Tls", address, detail: `TLS failure (${code})`, cause: error.cause })
  }
  return new ConnectionError({
    reason: "Closed",
    address,
    detail: `the connection broke${code === undefined ? "" : ` (${code})`}`,
    cause: error.cause
  })
}

/**
 * Opens a connection and completes the handshake. The connection lives until the scope
 * closes.
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { Connection, FaktoryUrl, Protocol } from "@effect-faktory/core"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const connection = yield* Connection.make({ url: Either.getOrThrow(FaktoryUrl.parse("tcp://localhost:7419")) })
 *   yield* connection.send(Protocol.flush)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ConnectionOptions
): Effect.Effect<Connection, ConnectionError | AuthenticationError | ProtocolError, Transport | Scope.Scope> =>
  // A span of its own only when the library's own work is traced (Tracing.traceInternals).
  open(options).pipe(
    Spans.internal("Connection.make", {
      attributes: { "faktory.address": options.url.address, "faktory.tls": options.url.tls }
    })
  )

const open = Effect.fnUntraced(function*(options: ConnectionOptions) {
  const transport = yield* Transport
  const address = options.url.address
  const replyTimeoutMillis = Duration.toMillis(options.replyTimeout ?? "15 seconds")

  const opened = yield* transport.connect({
    url: options.url,
    tls: options.tls,
    connectTimeoutMillis: Duration.toMillis(options.connectTimeout ?? "5 seconds")
  })

  const pending = MutableList.empty<ReplySlot>()
  let failure: SendError | undefined = undefined
  const closedSignal = yield* Deferred.make<SendError>()

  // One reply timer, armed by a command sent while none runs. It is neither re-armed nor
  // cleared per reply (measured: setting and clearing a timer per command was a tenth of a
  // push's CPU time): when it fires it checks the oldest waiting command and, if that one is
  // not yet overdue, sleeps until it would be; with nothing waiting it stops. It never keeps
  // the process alive by itself: a waiting command holds the socket's reference.
  //
  // The deadline counts only time in which the event loop could have read a reply. A timer
  // that fires late means the loop was blocked (a handler's busy loop, SIGSTOP): replies that
  // arrived meanwhile sit unread in the socket's buffer, and timers run before the loop polls
  // sockets. So a late firing adds its lateness to `stalledMillis`, which every waiting command
  // subtracts from its age, and never declares a timeout itself: the next check comes after
  // the loop has read what is buffered (measured without this: 4 of 20 jobs handed to waiting
  // FETCHes were dropped after a 20 s block, then waited out their reservations).
  //
  // Nor does a timer that fires on time decide a timeout: a block that ended less than the
  // tolerance after the deadline makes it fire on time, and the reply may be unread in the
  // socket's buffer all the same. An overdue head is confirmed from `afterPoll`, once the loop
  // has read the socket; it times out only if it is still the head and still overdue then
  // (measured without it: a worker stranded 1 of 60 jobs over three 20 s blocks, the FETCH
  // reply that carried it dropped unread).
  let timer: ReturnType<typeof setTimeout> | undefined = undefined
  let timerDueAt = 0
  let confirming = false
  let stalledMillis = 0
  const startTimer = (millis: number) => {
    timerDueAt = Date.now() + millis
    timer = setTimeout(onTimer, millis)
    if (typeof timer === "object" && "unref" in timer) timer.unref()
  }
  const overdueIn = (slot: ReplySlot, now: number) =>
    slot.sentAt + replyTimeoutMillis + (stalledMillis - slot.stalledAtSend) - now
  const onTimer = () => {
    timer = undefined
    const now = Date.now()
    const late = now - timerDueAt
    if (late > lateTimerToleranceMillis) stalledMillis += late
    const head = MutableList.head(pending)
    if (head === undefined || failure !== undefined) return
    const dueIn = overdueIn(head, now)
    if (dueIn > 0 || late > lateTimerToleranceMillis) return startTimer(Math.max(dueIn, 1))
    confirming = true
    afterPoll(() => confirmTimeout(head, now))
  }
  const confirmTimeout = (suspect: ReplySlot, suspectedAt: number) => {
    confirming = false
    const now = Date.now()
    // Callbacks of the poll phase may have blocked the loop in between: a stall too.
    const late = now - suspectedAt
    if (late > lateTimerToleranceMillis) stalledMillis += late
    const head = MutableList.head(pending)
    if (head === undefined || failure !== undefined) return
    const dueIn = overdueIn(head, now)
    if (head !== suspect || dueIn > 0 || late > lateTimerToleranceMillis) return startTimer(Math.max(dueIn, 1))
    shutdown(
      new ConnectionError({ reason: "Timeout", address, detail: `no reply to ${head.verb} within ${replyTimeoutMillis} ms` })
    )
  }
  const armTimer = () => {
    if (timer === undefined && !confirming) startTimer(replyTimeoutMillis)
  }

  const shutdown = (cause: SendError) => {
    if (failure !== undefined) return
    const error = cause._tag === "ProtocolError" ? cause.at(address) : cause
    failure = error
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    let slot = MutableList.shift(pending)
    while (slot !== undefined) {
      slot.onError(error)
      slot = MutableList.shift(pending)
    }
    opened.unref()
    Deferred.unsafeDone(closedSignal, Exit.succeed(error))
    // A broken connection is closed at once, not at scope close; after END the server closes.
    if (!(error._tag === "ConnectionError" && error.detail === closedByClient)) opened.destroy()
  }

  const enqueueSlot = (slot: ReplySlot): void => {
    if (MutableList.isEmpty(pending)) opened.ref()
    MutableList.append(pending, slot)
    armTimer()
  }

  const dispatch = (reply: Resp.Reply) => {
    const slot = MutableList.shift(pending)
    if (slot === undefined) {
      // The server speaks unprompted only to refuse a connection over its limit.
      const tooMany = reply._tag === "ErrorReply" && reply.message.startsWith("too many connections")
      shutdown(
        tooMany
          ? new ConnectionError({ reason: "TooManyConnections", address, detail: reply.message })
          : new ProtocolError({
            reason: "UnexpectedReply",
            detail: `a reply arrived with no command waiting: ${describeReply(reply)}`
          })
      )
      return
    }
    if (reply._tag === "ErrorReply" && reply.message === "shutdown in progress") {
      // The server closes right after this reply: it is a lost connection, not a refusal.
      const error = new ConnectionError({ reason: "Closed", address, detail: "the server is shutting down" })
      slot.onError(error)
      shutdown(error)
      return
    }
    slot.onReply(reply)
    if (MutableList.isEmpty(pending)) opened.unref()
  }

  // Writes are coalesced: the lines of every command sent in the same tick go out in one
  // write, on a microtask, so a burst of pipelined commands costs one system call.
  let outgoing: Array<string> = []
  let flushScheduled = false
  const flush = () => {
    flushScheduled = false
    const lines = outgoing
    outgoing = []
    if (failure === undefined && lines.length > 0) opened.write(lines.length === 1 ? lines[0]! : lines.join(""))
  }
  const enqueueLine = (line: string) => {
    outgoing.push(line)
    if (!flushScheduled) {
      flushScheduled = true
      queueMicrotask(flush)
    }
  }

  // Background fibers are made interruptible explicitly: a connection is often opened inside
  // an uninterruptible region (a pool's acquire), whose status forked fibers would inherit,
  // and then the scope could never stop them.
  // The greeting arrives unasked: its slot is the first in the FIFO, before any command.
  let greeted: Effect.Effect<Resp.Reply, SendError> | undefined = undefined
  let onGreeting: ((result: Effect.Effect<Resp.Reply, SendError>) => void) | undefined = undefined
  const greet = (result: Effect.Effect<Resp.Reply, SendError>) => {
    greeted = result
    onGreeting?.(result)
  }
  enqueueSlot({
    verb: "HI",
    sentAt: Date.now(),
    stalledAtSend: stalledMillis,
    onReply: (reply) => greet(Effect.succeed(reply)),
    onError: (error) => greet(Effect.fail(error))
  })
  const awaitGreeting = Effect.async<Resp.Reply, SendError>((resume) => {
    if (greeted !== undefined) return resume(greeted)
    onGreeting = resume
  })

  // Replies are decoded as the bytes arrive, in the socket's own callback: the same
  // incremental decoder that `Resp.decodeStream` wraps, without a stream stage per chunk
  // (measured: the stage cost more than the decoding).
  const decoder = new Resp.Decoder(options.decoder)
  const decoded: Array<Resp.Reply> = []
  // What the handshake got so far, for its timeout's message: the likely cause differs.
  let bytesReceived = 0
  let helloSent = false
  yield* opened.socket.run((chunk) => {
    bytesReceived += chunk.byteLength
    if (failure !== undefined) return
    const result = decoder.feed(chunk, decoded)
    for (const reply of decoded) dispatch(reply)
    decoded.length = 0
    if (!Array.isArray(result)) shutdown(result)
  }).pipe(
    Effect.matchEffect({
      onSuccess: () =>
        Effect.sync(() =>
          shutdown(
            new ConnectionError({
              reason: "Closed",
              address,
              // Faktory's TLS listener drops a plaintext client after a few seconds of silence,
              // before the handshake's own deadline, and so does its Web UI's port: the likely
              // causes are said then.
              detail: bytesReceived > 0
                ? "the server closed the connection"
                : "the server closed the connection without a greeting: is this Faktory's port (7419, not the Web UI's 7420)?" +
                  (options.url.tls ? "" : " A TLS-only server does this too: use tcp+tls://")
            })
          )
        ),
      onFailure: (error) => Effect.sync(() => shutdown(fromSocketError(error, address)))
    }),
    Effect.interruptible,
    Effect.forkScoped
  )

  /**
   * A command's reply as its reader reads it. A reply the reader cannot take names this
   * server, since the same command may go to several.
   */
  const read = <A, E>(command: Protocol.Command<A, E>, reply: Resp.Reply): Either.Either<A, E> => {
    const result = command.reply(reply)
    if (Either.isLeft(result)) {
      const error: unknown = result.left
      // Only this package's own ProtocolError is renamed; `at` returns the same type.
      if (error instanceof ProtocolError) return Either.left(error.at(address) as E)
    }
    return result
  }

  /**
   * Queues a reply slot and the line in one synchronous step, so concurrent senders put their
   * slots in the FIFO in exactly the order their lines go out.
   */
  const write = (command: Protocol.Command<unknown, unknown>, onReply: (reply: Resp.Reply) => void, onError: (error: SendError) => void) => {
    enqueueSlot({ verb: command.verb, sentAt: Date.now(), stalledAtSend: stalledMillis, onReply, onError })
    enqueueLine(command.line)
  }

  const unsafeSend: Connection["unsafeSend"] = (command, onResult) => {
    if (failure !== undefined) return onResult(Either.left(failure))
    write(command, (reply) => onResult(read(command, reply)), (error) => onResult(Either.left(error)))
  }

  // An Either is an Effect: the reading is resumed with as it is.
  const send: Connection["send"] = (command) => Effect.async((resume) => unsafeSend(command, resume))

  const sendPair: Connection["sendPair"] = <A, E, B, F>(
    first: Protocol.Command<A, E>,
    second: Protocol.Command<B, F>,
    onFirst?: (result: Either.Either<A, E>) => void
  ) =>
    Effect.async<readonly [Either.Either<A, E>, Either.Either<B, F>], SendError>((resume) => {
      if (failure !== undefined) return resume(Effect.fail(failure))
      let firstResult: Either.Either<A, E> | undefined = undefined
      let settled = false
      const fail = (error: SendError) => {
        if (settled) return
        settled = true
        resume(Effect.fail(error))
      }
      write(first, (reply) => {
        firstResult = read(first, reply)
        onFirst?.(firstResult)
      }, fail)
      write(second, (reply) => {
        if (settled || firstResult === undefined) return
        settled = true
        resume(Effect.succeed([firstResult, read(second, reply)] as const))
      }, fail)
    })

  // END gets no reply; the server closes its side. Lines still queued go first.
  const sayEnd = () => {
    if (failure !== undefined) return
    flush()
    opened.write("END\r\n")
    shutdown(new ConnectionError({ reason: "Closed", address, detail: closedByClient }))
  }
  yield* Effect.addFinalizer(() => Effect.sync(sayEnd))

  const handshake = Effect.gen(function*() {
    const hi = yield* Effect.flatMap(awaitGreeting, Handshake.parseHi)
    const password = Option.getOrUndefined(Option.map(options.url.password, Redacted.value))
    if (hi.s !== undefined && password === undefined) {
      return yield* new AuthenticationError({
        address,
        detail: options.url.userWithoutPassword
          ? "the server requires a password and none was given (the URL has a user name but no password: Faktory takes the password after a colon, tcp://:PASSWORD@host)"
          : "the server requires a password and none was given"
      })
    }
    helloSent = true
    yield* send(Handshake.helloCommand(hi, password, options.worker, address)).pipe(
      Effect.catchTag("ConnectionError", (error) =>
        error.reason === "Closed"
          ? Effect.fail(
            new ConnectionError({
              reason: "Closed",
              address,
              detail: "the server closed the connection in reply to HELLO (it rejects malformed HELLO payloads)"
            })
          )
          : Effect.fail(error))
    )
  })

  const handshakeMillis = Duration.toMillis(options.handshakeTimeout ?? "5 seconds")
  // Interruptible so that the deadline holds even when opened inside an uninterruptible region;
  // on the live clock so that it holds under a TestClock too.
  yield* handshake.pipe(
    Effect.interruptible,
    Effect.timeoutFail({
      duration: handshakeMillis,
      onTimeout: () =>
        new ConnectionError({
          reason: "Timeout",
          address,
          detail: `the handshake did not finish within ${handshakeMillis} ms: ${
            helloSent
              ? "the server greeted but did not answer HELLO"
              : bytesReceived === 0
              ? `the server sent nothing${
                options.url.tls ? "" : " (a TLS-only server sends nothing to a plaintext client: use tcp+tls://)"
              }`
              : `the server sent ${bytesReceived} bytes but no complete greeting (is this a Faktory server?)`
          }`
        })
    }),
    LiveClock.onLiveClock,
    Effect.mapError((error) => error._tag === "ProtocolError" ? error.at(address) : error),
    Effect.tapError((error) =>
      Effect.sync(() => shutdown(error._tag === "AuthenticationError" ? toClosed(error, address) : error))
    )
  )

  return {
    address,
    send,
    sendPair,
    unsafeSend,
    isOpen: () => failure === undefined,
    inFlight: () => MutableList.length(pending),
    close: Effect.sync(sayEnd),
    closed: Deferred.await(closedSignal)
  } satisfies Connection
})

const toClosed = (error: AuthenticationError, address: string) =>
  new ConnectionError({ reason: "Closed", address, detail: `closed after ${error.detail}` })

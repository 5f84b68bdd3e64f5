/**
 * One connection to a Faktory server, as a scoped resource: open the socket, read `HI`,
 * answer `HELLO`, then carry commands. Commands may be pipelined: the server answers each
 * connection strictly in order, so every command appends a reply slot to a FIFO and the
 * reader completes the oldest slot with each reply. On release the connection says `END`
 * and closes.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Mailbox from "effect/Mailbox"
import * as MutableList from "effect/MutableList"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { AuthenticationError, ConnectionError, ProtocolError } from "./Errors.js"
import type { FaktoryUrl } from "./FaktoryUrl.js"
import * as Handshake from "./Handshake.js"
import * as Protocol from "./Protocol.js"
import * as Resp from "./Resp.js"
import { Transport, type TlsOptions } from "./Transport.js"

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
  readonly worker?: Handshake.WorkerIdentity | undefined
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
   * Sends a command and waits for its reply. Error replies (`-ERR …`) are replies, not
   * failures: what they mean depends on the command. Safe to call concurrently: replies are
   * matched in order.
   */
  readonly send: (command: Protocol.Command) => Effect.Effect<Resp.Reply, ConnectionError | ProtocolError>
  /** `true` until the connection is closed or broken. */
  readonly isOpen: () => boolean
  /** Commands written whose replies have not arrived. */
  readonly inFlight: () => number
  /** Closes the connection now, failing commands still in flight. */
  readonly close: Effect.Effect<void>
  /** Completes with the error that closed the connection. */
  readonly closed: Effect.Effect<ConnectionError | ProtocolError>
}

interface ReplySlot {
  /** Completes the waiting `send` (a no-op once its caller was interrupted). */
  readonly resume: (result: Effect.Effect<Resp.Reply, ConnectionError | ProtocolError>) => void
  readonly verb: string
  readonly sentAt: number
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
export const fromSocketError = (error: Socket.SocketError, address: string): ConnectionError => {
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
export const make = Effect.fn("Connection.make")(function*(options: ConnectionOptions) {
  const transport = yield* Transport
  const address = options.url.address
  const replyTimeoutMillis = Duration.toMillis(options.replyTimeout ?? "15 seconds")
  yield* Effect.annotateCurrentSpan({ "faktory.address": address, "faktory.tls": options.url.tls })

  const opened = yield* transport.connect({
    url: options.url,
    tls: options.tls,
    connectTimeoutMillis: Duration.toMillis(options.connectTimeout ?? "5 seconds")
  })
  const write = yield* opened.socket.writer

  const pending = MutableList.empty<ReplySlot>()
  let failure: ConnectionError | ProtocolError | undefined = undefined
  const closedSignal = yield* Deferred.make<ConnectionError | ProtocolError>()

  // A reply timer runs only while a command waits, so an idle connection holds no timer. It is
  // not re-armed per reply: when it fires it checks the oldest waiting command and, if that
  // one is not yet overdue, sleeps until it would be.
  let timer: ReturnType<typeof setTimeout> | undefined = undefined
  const onTimer = () => {
    timer = undefined
    const head = MutableList.head(pending)
    if (head === undefined || failure !== undefined) return
    const overdueIn = head.sentAt + replyTimeoutMillis - Date.now()
    if (overdueIn > 0) {
      timer = setTimeout(onTimer, overdueIn)
      return
    }
    shutdown(
      new ConnectionError({ reason: "Timeout", address, detail: `no reply to ${head.verb} within ${replyTimeoutMillis} ms` })
    )
  }
  const armTimer = () => {
    if (timer === undefined) timer = setTimeout(onTimer, replyTimeoutMillis)
  }

  const shutdown = (error: ConnectionError | ProtocolError) => {
    if (failure !== undefined) return
    failure = error
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    let slot = MutableList.shift(pending)
    while (slot !== undefined) {
      slot.resume(Effect.fail(error))
      slot = MutableList.shift(pending)
    }
    opened.unref()
    Deferred.unsafeDone(closedSignal, Exit.succeed(error))
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
            detail: `a reply arrived with no command waiting: ${Handshake.describeReply(reply)}`
          })
      )
      return
    }
    if (reply._tag === "ErrorReply" && reply.message === "shutdown in progress") {
      // The server closes right after this reply: it is a lost connection, not a refusal.
      const error = new ConnectionError({ reason: "Closed", address, detail: "the server is shutting down" })
      slot.resume(Effect.fail(error))
      shutdown(error)
      return
    }
    slot.resume(Effect.succeed(reply))
    if (MutableList.isEmpty(pending)) {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      opened.unref()
    }
  }

  // Writes are coalesced: whatever commands were sent since the last write go out together.
  let outgoing: Array<string> = []
  const wake = yield* Effect.makeLatch(false)
  const writerLoop = Effect.gen(function*() {
    while (true) {
      yield* wake.await
      wake.unsafeClose()
      const lines = outgoing
      outgoing = []
      if (lines.length > 0) yield* write(lines.length === 1 ? lines[0]! : lines.join(""))
    }
  })
  yield* writerLoop.pipe(
    Effect.catchAll((error) => Effect.sync(() => shutdown(fromSocketError(error, address)))),
    Effect.interruptible,
    Effect.forkScoped
  )

  // Background fibers are made interruptible explicitly: a connection is often opened inside
  // an uninterruptible region (a pool's acquire), whose status forked fibers would inherit,
  // and then the scope could never stop them.
  let greeted: Effect.Effect<Resp.Reply, ConnectionError | ProtocolError> | undefined = undefined
  let onGreeting: ((result: Effect.Effect<Resp.Reply, ConnectionError | ProtocolError>) => void) | undefined = undefined
  // The greeting arrives unasked: its slot is the first in the FIFO, before any command.
  enqueueSlot({
    verb: "HI",
    sentAt: Date.now(),
    resume: (result) => {
      greeted = result
      onGreeting?.(result)
    }
  })
  const awaitGreeting = Effect.async<Resp.Reply, ConnectionError | ProtocolError>((resume) => {
    if (greeted !== undefined) return resume(greeted)
    onGreeting = resume
  })

  const chunks = yield* Mailbox.make<Uint8Array, Socket.SocketError>()
  yield* opened.socket.run((chunk) => {
    chunks.unsafeOffer(chunk)
  }).pipe(Mailbox.into(chunks), Effect.interruptible, Effect.forkScoped)
  yield* Mailbox.toStream(chunks).pipe(
    Resp.decodeStream(options.decoder),
    Stream.runForEachChunk((replies) =>
      Effect.sync(() => {
        for (const reply of replies) dispatch(reply)
      })
    ),
    Effect.matchEffect({
      onSuccess: () =>
        Effect.sync(() =>
          shutdown(new ConnectionError({ reason: "Closed", address, detail: "the server closed the connection" }))
        ),
      onFailure: (error) =>
        Effect.sync(() => shutdown(Socket.isSocketError(error) ? fromSocketError(error, address) : error))
    }),
    Effect.interruptible,
    Effect.forkScoped
  )

  // Once broken, the socket is destroyed at once rather than at scope close.
  yield* Deferred.await(closedSignal).pipe(
    Effect.zipRight(write(new Socket.CloseEvent(1000)).pipe(Effect.interruptible, Effect.timeout("1 second"), Effect.ignore)),
    Effect.interruptible,
    Effect.forkScoped
  )

  // The slot is queued and the line written in one synchronous step, so concurrent senders
  // put their slots in the FIFO in exactly the order their lines go out.
  const send = (command: Protocol.Command): Effect.Effect<Resp.Reply, ConnectionError | ProtocolError> =>
    Effect.async((resume) => {
      if (failure !== undefined) return resume(Effect.fail(failure))
      enqueueSlot({ resume, verb: command.verb, sentAt: Date.now() })
      outgoing.push(command.line)
      wake.unsafeOpen()
    })

  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      if (failure !== undefined) return Effect.void
      // END gets no reply; the server closes its side. The write is bounded: a socket that
      // broke meanwhile never completes it, and finalizers are otherwise uninterruptible.
      return write(Protocol.end.line).pipe(
        Effect.interruptible,
        Effect.timeout("1 second"),
        Effect.ignore,
        Effect.zipRight(Effect.sync(() =>
          shutdown(
            new ConnectionError({ reason: "Closed", address, detail: "the connection was closed by the client" })
          )
        ))
      )
    })
  )

  const handshake = Effect.gen(function*() {
    const hi = yield* Effect.flatMap(awaitGreeting, Handshake.parseHi)
    const password = Option.getOrUndefined(Option.map(options.url.password, Redacted.value))
    if (hi.s !== undefined && password === undefined) {
      return yield* new AuthenticationError({ address, detail: "the server requires a password and none was given" })
    }
    const reply = yield* send(Protocol.hello(Handshake.hello(hi, password, options.worker))).pipe(
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
    if (reply._tag === "ErrorReply") {
      if (reply.message.toLowerCase().includes("password")) {
        return yield* new AuthenticationError({ address, detail: reply.message })
      }
      return yield* new ProtocolError({
        reason: "UnexpectedReply",
        detail: `HELLO was refused: ${Handshake.describeReply(reply)}`
      })
    }
    if (reply._tag !== "SimpleString" || reply.value !== "OK") {
      return yield* new ProtocolError({
        reason: "UnexpectedReply",
        detail: `expected OK after HELLO, got ${Handshake.describeReply(reply)}`
      })
    }
  })

  const handshakeMillis = Duration.toMillis(options.handshakeTimeout ?? "5 seconds")
  // Interruptible so that the deadline holds even when opened inside an uninterruptible region.
  yield* handshake.pipe(
    Effect.interruptible,
    Effect.timeoutFail({
      duration: handshakeMillis,
      onTimeout: () =>
        new ConnectionError({
          reason: "Timeout",
          address,
          detail: `the handshake did not finish within ${handshakeMillis} ms${
            options.url.tls ? "" : " (a TLS-only server sends nothing to a plaintext client)"
          }`
        })
    }),
    Effect.tapError((error) =>
      Effect.sync(() => shutdown(error._tag === "AuthenticationError" ? toClosed(error, address) : error))
    )
  )

  return {
    address,
    send,
    isOpen: () => failure === undefined,
    inFlight: () => MutableList.length(pending),
    close: Effect.sync(() =>
      shutdown(new ConnectionError({ reason: "Closed", address, detail: "the connection was closed by the client" }))
    ),
    closed: Deferred.await(closedSignal)
  } satisfies Connection
})

const toClosed = (error: AuthenticationError, address: string) =>
  new ConnectionError({ reason: "Closed", address, detail: `closed after ${error.detail}` })

/**
 * Sends a command and returns the connection's reply, over a connection that is opened and
 * closed around it. Handy for one-off administrative commands.
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { Connection, FaktoryUrl, Protocol } from "@effect-faktory/core"
 *
 * const url = Either.getOrThrow(FaktoryUrl.parse("tcp://localhost:7419"))
 * const reply = Connection.sendOnce({ url }, Protocol.info)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const sendOnce = (
  options: ConnectionOptions,
  command: Protocol.Command
): Effect.Effect<Resp.Reply, ConnectionError | ProtocolError | AuthenticationError, Transport> =>
  Effect.scoped(Effect.flatMap(make(options), (connection) => connection.send(command)))

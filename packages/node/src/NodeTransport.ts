/**
 * TCP and TLS sockets for Node.js (and runtimes with `node:net`/`node:tls`), as a
 * `Transport` for `@effect-faktory/core`.
 *
 * @since 0.1.0
 */
import { ConnectionError } from "@effect-faktory/core/Errors"
import * as Transport from "@effect-faktory/core/Transport"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Net from "node:net"
import type * as TlsModule from "node:tls"

const tlsCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH"
])

const errorCode = (cause: unknown): string | undefined =>
  cause instanceof Error && "code" in cause && typeof cause.code === "string" ? cause.code : undefined

/**
 * Maps a Node socket error raised while connecting onto a `ConnectionError`.
 *
 * @example
 * ```ts
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const error = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
 * NodeTransport.classifyConnectError(error, "localhost:7419", false).reason // "Refused"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const classifyConnectError = (cause: unknown, address: string, tls: boolean): ConnectionError => {
  const code = errorCode(cause)
  const text = cause instanceof Error ? cause.message : String(cause)
  if (code === "ECONNREFUSED") {
    return new ConnectionError({ reason: "Refused", address, detail: "connection refused: is Faktory running?", cause })
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    return new ConnectionError({ reason: "Dns", address, detail: `the host name does not resolve (${code})`, cause })
  }
  if (code === "ETIMEDOUT") {
    return new ConnectionError({ reason: "Timeout", address, detail: "the connect timed out", cause })
  }
  if (
    code !== undefined &&
    (tlsCodes.has(code) || code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || code.startsWith("CERT_"))
  ) {
    // The server answered TLS's hello with plain text: it does not speak TLS on this port.
    if (code === "ERR_SSL_WRONG_VERSION_NUMBER") {
      return new ConnectionError({
        reason: "Tls",
        address,
        detail: "the server does not speak TLS on this port (did you mean tcp:// rather than tcp+tls://?)",
        cause
      })
    }
    return new ConnectionError({ reason: "Tls", address, detail: `TLS handshake failed: ${text}`, cause })
  }
  if (tls) {
    return new ConnectionError({ reason: "Tls", address, detail: `TLS connection failed: ${text}`, cause })
  }
  return new ConnectionError({
    reason: code === "ECONNRESET" || code === "EPIPE" ? "Closed" : "Unknown",
    address,
    detail: `cannot connect: ${text}`,
    cause
  })
}

/**
 * `node:tls`, loaded for the first `tcp+tls://` connection rather than with this module: it
 * costs a program that only speaks plain TCP about 2 MB. A literal `import()`, which bundlers
 * see.
 */
let tlsModule: Promise<typeof TlsModule> | undefined = undefined
const loadTls = Effect.promise(() => (tlsModule ??= import("node:tls")))

const openRaw = (options: Transport.ConnectOptions): Effect.Effect<Net.Socket, ConnectionError> =>
  options.url.tls ? Effect.flatMap(loadTls, (tls) => openWith(options, tls)) : openWith(options, undefined)

const openWith = (options: Transport.ConnectOptions, Tls: typeof TlsModule | undefined): Effect.Effect<Net.Socket, ConnectionError> =>
  Effect.async<Net.Socket, ConnectionError>((resume) => {
    const { url } = options
    const address = url.address
    const tls = options.tls
    const socket: Net.Socket = url.tls && Tls !== undefined
      ? Tls.connect({
        host: url.host,
        port: url.port,
        servername: tls?.serverName ?? (Net.isIP(url.host) === 0 ? url.host : undefined),
        rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        ...(tls?.ca === undefined ? {} : { ca: typeof tls.ca === "string" ? tls.ca : [...tls.ca] })
      })
      : Net.connect({ host: url.host, port: url.port })
    socket.setNoDelay(true)
    const timer = setTimeout(() => {
      socket.destroy()
      resume(
        Effect.fail(
          new ConnectionError({
            reason: "Timeout",
            address,
            detail: `no connection within ${options.connectTimeoutMillis} ms`
          })
        )
      )
    }, options.connectTimeoutMillis)
    const onError = (cause: Error) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.fail(classifyConnectError(cause, address, url.tls)))
    }
    socket.once("error", onError)
    socket.once(url.tls ? "secureConnect" : "connect", () => {
      clearTimeout(timer)
      socket.off("error", onError)
      resume(Effect.succeed(socket))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/**
 * Opens a TCP or TLS socket (by the URL's scheme) as an `@effect/platform` `Socket`; the
 * socket is destroyed when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { FaktoryUrl } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const url = Either.getOrThrow(FaktoryUrl.parse("tcp://localhost:7419"))
 * const socket = NodeTransport.connect({ url, connectTimeoutMillis: 5000 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (options: Transport.ConnectOptions) =>
  Effect.map(
    Effect.acquireRelease(openRaw(options), (socket) =>
      Effect.sync(() => {
        if (!socket.destroyed) socket.destroySoon()
      })),
    (raw) => ({
      socket: reader(raw),
      write: (data) => {
        if (!raw.destroyed) raw.write(data)
      },
      destroy: () => {
        raw.destroy()
      },
      ref: () => {
        raw.ref()
      },
      unref: () => {
        raw.unref()
      }
    } satisfies Transport.TransportSocket)
  )

/**
 * Reads a Node socket as `@effect/platform-node`'s `NodeSocket.fromDuplex` does (the end of
 * the stream completes; an error fails with `Read`; a close without an end fails with
 * `Close`), without loading `@effect/platform`'s socket, stream and WebSocket modules: a
 * script that pushes one job pays for what it uses.
 */
const reader = (raw: Net.Socket): Transport.SocketReader => ({
  run: (onData) =>
    Effect.async<void, Transport.SocketFailure>((resume) => {
      let done = false
      const finish = (result: Effect.Effect<void, Transport.SocketFailure>) => {
        if (done) return
        done = true
        detach()
        resume(result)
      }
      const onChunk = (chunk: Buffer) => {
        onData(chunk)
      }
      const onEnd = () => finish(Effect.void)
      const onError = (cause: Error) => finish(Effect.fail({ reason: "Read", cause }))
      const onClose = (hadError: boolean) => finish(Effect.fail({ reason: "Close", code: hadError ? 1006 : 1000 }))
      const detach = () => {
        raw.off("data", onChunk)
        raw.off("end", onEnd)
        raw.off("error", onError)
        raw.off("close", onClose)
      }
      raw.on("end", onEnd)
      raw.on("error", onError)
      raw.on("close", onClose)
      raw.on("data", onChunk)
      // Closed before anyone read it: there is nothing more to come.
      if (raw.destroyed) finish(Effect.fail({ reason: "Close", code: 1006 }))
      return Effect.sync(detach)
    })
})

/**
 * The Node transport as a service value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transport: Transport.Transport["Type"] = { name: "node", connect }

/**
 * The Node transport as a layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client } from "@effect-faktory/core"
 * import { NodeTransport } from "@effect-faktory/node"
 *
 * const FaktoryLive = Client.layer().pipe(Layer.provide(NodeTransport.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Transport.Transport> = Layer.succeed(Transport.Transport, transport)

/**
 * What the node package registers as the process-wide default: this transport, and closing
 * the default client when the event loop empties.
 *
 * @since 0.1.0
 * @category constructors
 */
export const platform: Transport.Platform = {
  transport,
  onExit: (finalizer) => {
    process.once("beforeExit", () => {
      void finalizer()
    })
  }
}

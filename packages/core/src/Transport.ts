/**
 * How bytes reach a Faktory server. The core package is platform-free: it asks a `Transport`
 * for an open socket, which it reads with `run` (the one method of `@effect/platform`'s
 * `Socket` it uses, so such a `Socket` serves as it is). `@effect-faktory/node` provides TCP
 * and TLS transports, and registers itself as the default client's platform when it is
 * imported.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConnectionError } from "./Errors.js"
import type { FaktoryUrl } from "./FaktoryUrl.js"

/**
 * TLS settings. Certificates are verified unless `rejectUnauthorized` is `false`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  /** Extra trusted certificate authorities, PEM encoded. */
  readonly ca?: string | ReadonlyArray<string> | undefined
  /** Set to `false` to accept any certificate. Only for tests and private networks. */
  readonly rejectUnauthorized?: boolean | undefined
  /** The name to verify the certificate against, when it differs from the URL's host. */
  readonly serverName?: string | undefined
}

/**
 * What a transport needs to open one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  readonly url: FaktoryUrl
  readonly tls?: TlsOptions | undefined
  /** Deadline for the TCP (and TLS) connect, in milliseconds. */
  readonly connectTimeoutMillis: number
}

/**
 * Why reading a socket stopped: `Close` when it closed without its end being read (`code`
 * 1006 after an error, else 1000), `Read`, `Write` or `Open` with the platform's error as
 * `cause`. `@effect/platform`'s `SocketError` is one.
 *
 * @since 0.2.0
 * @category models
 */
export interface SocketFailure {
  readonly reason: "Read" | "Write" | "Open" | "OpenTimeout" | "Close"
  readonly cause?: unknown
  readonly code?: number
}

/**
 * The reading side of an open socket. `run` delivers the bytes as they arrive, and completes
 * when the peer ends the connection, or fails with why reading stopped. `@effect/platform`'s
 * `Socket` is one; `@effect-faktory/node` reads Node sockets directly, without loading
 * `@effect/platform`'s socket and stream modules.
 *
 * @since 0.2.0
 * @category models
 */
export interface SocketReader {
  readonly run: (onData: (chunk: Uint8Array) => void) => Effect.Effect<void, SocketFailure>
}

/**
 * An open connection: the socket, plus whether it may keep the process alive.
 *
 * A connection with no command in flight calls `unref`, so an idle client never stops a
 * script from exiting; it calls `ref` while a reply is awaited.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportSocket {
  /** For reading: `run` delivers the bytes as they arrive. */
  readonly socket: SocketReader
  /**
   * Writes at once, without waiting for the bytes to drain. Commands are small and their
   * replies are the flow control; a failed write surfaces as `socket.run` failing.
   */
  readonly write: (data: string) => void
  /** Closes the socket at once. */
  readonly destroy: () => void
  readonly ref: () => void
  readonly unref: () => void
}

/**
 * Opens sockets to Faktory servers.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transport } from "@effect-faktory/core"
 *
 * const describe = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   return transport.name
 * })
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Transport extends Context.Tag("@effect-faktory/core/Transport")<Transport, {
  readonly name: string
  readonly connect: (options: ConnectOptions) => Effect.Effect<TransportSocket, ConnectionError, Scope.Scope>
}>() {}

/**
 * What a platform package registers with `DefaultClient.setPlatform` so that `push(job)`
 * works without any layer: its transport, and a hook to close the default client when the
 * process is about to exit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Platform {
  readonly transport: Context.Tag.Service<Transport>
  readonly onExit: (finalizer: () => Promise<void>) => void
}

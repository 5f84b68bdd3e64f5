/**
 * How bytes reach a Faktory server. The core package is platform-free: it asks a `Transport`
 * for an open `@effect/platform` `Socket`. `@effect-faktory/node` provides TCP and TLS
 * transports, and registers itself as the default client's platform when it is imported.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
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
  readonly socket: Socket.Socket
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

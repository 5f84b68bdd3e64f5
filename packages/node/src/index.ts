/**
 * Node.js support for effect-faktory: TCP and TLS sockets. Loading this module registers the
 * Node transport as the default, so `push(job)` from `@effect-faktory/core` works with no layer.
 *
 * @since 0.1.0
 */
import { Transport } from "@effect-faktory/core"
import * as NodeTransport from "./NodeTransport.js"

Transport.registerDefaultPlatform(NodeTransport.platform)

/** @since 0.1.0 */
export * as NodeClient from "./NodeClient.js"
/** @since 0.1.0 */
export * as NodeTransport from "./NodeTransport.js"
/** @since 0.1.0 */
export * as NodeWorker from "./NodeWorker.js"
// The `faktory-worker` command line (`@effect-faktory/node/WorkerCli`) is not re-exported:
// loading @effect/cli costs every worker about 10 MB of memory, and only the binary needs it.

/**
 * Node.js support for effect-faktory: TCP and TLS sockets, the client and worker layers, and
 * the module-level commands (`push`, `info`, …) backed by a default client over Node sockets.
 *
 * Importing this module sets Node as the default client's platform, statically (no computed
 * import), so bundlers keep it: `push` from here, or from `@effect-faktory/core` anywhere in
 * a program that imports this package, works with no layer.
 *
 * @since 0.1.0
 */
import * as DefaultClient from "@effect-faktory/core/DefaultClient"
import * as NodeTransport from "./NodeTransport.js"

DefaultClient.setPlatform(NodeTransport.platform)

/** @since 0.1.0 */
export * as NodeClient from "./NodeClient.js"
/** @since 0.1.0 */
export * as NodeTransport from "./NodeTransport.js"
/** @since 0.1.0 */
export * as NodeWorker from "./NodeWorker.js"
// The `faktory-worker` command line (`@effect-faktory/node/WorkerCli`) is not re-exported: only
// the binary needs its argument parsing, help text and the contracts command's modules.

/**
 * The module-level commands of `@effect-faktory/core`, re-exported so that importing them
 * also loads this module and with it the platform.
 *
 * @since 0.1.0
 */
export {
  info,
  mutate,
  pauseQueues,
  push,
  pushBulk,
  queueLatency,
  removeQueues,
  resumeQueues
} from "@effect-faktory/core/DefaultClient"

/** @since 0.1.0 */
export * as DefaultClient from "@effect-faktory/core/DefaultClient"

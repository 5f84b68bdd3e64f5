/**
 * Effect-native Faktory: the wire protocol, connections, the client, typed jobs, their
 * handlers and runner, the worker, and Faktory Enterprise's batches and tracking. Platform-free; pair it with `@effect-faktory/node` for
 * sockets.
 *
 * @since 0.1.0
 */

/** @since 0.2.0 */
export * as Batch from "./Batch.js"
/** @since 0.1.0 */
export * as Client from "./Client.js"
/** @since 0.1.0 */
export * as Connection from "./Connection.js"
/** @since 0.1.0 */
export * as ConnectionPool from "./ConnectionPool.js"
/** @since 0.2.0 */
export * as Contract from "./Contract.js"
/** @since 0.1.0 */
export * as DefaultClient from "./DefaultClient.js"
/** @since 0.2.0 */
export * as Enterprise from "./Enterprise.js"
/** @since 0.1.0 */
export * as FaktoryUrl from "./FaktoryUrl.js"
/** @since 0.1.0 */
export * as Job from "./Job.js"
/** @since 0.2.0 */
export * as JobHandler from "./JobHandler.js"
/** @since 0.1.0 */
export * as JobPayload from "./JobPayload.js"
/** @since 0.2.0 */
export * as JobRunner from "./JobRunner.js"
/** @since 0.2.0 */
export * as Metrics from "./Metrics.js"
/** @since 0.1.0 */
export * as Protocol from "./Protocol.js"
/** @since 0.2.0 */
export * as Replies from "./Replies.js"
/** @since 0.1.0 */
export * as Resp from "./Resp.js"
/** @since 0.1.0 */
export * as ServerInfo from "./ServerInfo.js"
/** @since 0.2.0 */
export * as TraceContext from "./TraceContext.js"
/** @since 0.2.0 */
export * as Tracing from "./Tracing.js"
/** @since 0.2.0 */
export * as Tracking from "./Tracking.js"
/** @since 0.1.0 */
export * as Transport from "./Transport.js"
/** @since 0.1.0 */
export * as Worker from "./Worker.js"

/** @since 0.1.0 */
export * from "./Errors.js"

// The commands applications call, each documented in DefaultClient; they use the `Client` in
// context, else the default client. A worker's own commands (FETCH, ACK, FAIL, BEAT) and FLUSH
// are on `Client.Service`.
export {
  /**
   * @since 0.1.0
   * @category commands
   */
  info,
  /**
   * @since 0.1.0
   * @category commands
   */
  mutate,
  /**
   * @since 0.1.0
   * @category commands
   */
  pauseQueues,
  /**
   * @since 0.1.0
   * @category commands
   */
  push,
  /**
   * @since 0.1.0
   * @category commands
   */
  pushBulk,
  /**
   * @since 0.1.0
   * @category commands
   */
  queueLatency,
  /**
   * @since 0.1.0
   * @category commands
   */
  removeQueues,
  /**
   * @since 0.1.0
   * @category commands
   */
  resumeQueues
} from "./DefaultClient.js"

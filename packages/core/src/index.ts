/**
 * Effect-native Faktory: protocol, connections, the client and job payloads. Platform-free;
 * pair it with `@effect-faktory/node` for sockets.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Client from "./Client.js"
/** @since 0.1.0 */
export * as Connection from "./Connection.js"
/** @since 0.1.0 */
export * as ConnectionPool from "./ConnectionPool.js"
/** @since 0.1.0 */
export * as DefaultClient from "./DefaultClient.js"
/** @since 0.1.0 */
export * as FaktoryUrl from "./FaktoryUrl.js"
/** @since 0.1.0 */
export * as Handshake from "./Handshake.js"
/** @since 0.1.0 */
export * as Job from "./Job.js"
/** @since 0.1.0 */
export * as JobPayload from "./JobPayload.js"
/** @since 0.3.0 */
export * as Metrics from "./Metrics.js"
/** @since 0.1.0 */
export * as Protocol from "./Protocol.js"
/** @since 0.2.0 */
export * as Replies from "./Replies.js"
/** @since 0.1.0 */
export * as Resp from "./Resp.js"
/** @since 0.1.0 */
export * as ServerInfo from "./ServerInfo.js"
/** @since 0.1.0 */
export * as Sha256 from "./Sha256.js"
/** @since 0.1.0 */
export * as Spans from "./Spans.js"
/** @since 0.3.0 */
export * as TraceContext from "./TraceContext.js"
/** @since 0.1.0 */
export * as Transport from "./Transport.js"
/** @since 0.1.0 */
export * as Worker from "./Worker.js"

/** @since 0.1.0 */
export * from "./Errors.js"

// The module-level commands of DefaultClient, each documented there.
export {
  /**
   * @since 0.1.0
   * @category commands
   */
  ack,
  /**
   * @since 0.1.0
   * @category commands
   */
  batch,
  /**
   * @since 0.1.0
   * @category commands
   */
  beat,
  /**
   * @since 0.1.0
   * @category commands
   */
  fail,
  /**
   * @since 0.1.0
   * @category commands
   */
  fetch,
  /**
   * @since 0.1.0
   * @category commands
   */
  flush,
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
  resumeQueues,
  /**
   * @since 0.1.0
   * @category commands
   */
  track
} from "./DefaultClient.js"

/**
 * Test support for effect-faktory: throwaway real Faktory servers.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as FaktoryServer from "./FaktoryServer.js"

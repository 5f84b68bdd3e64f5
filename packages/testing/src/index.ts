/**
 * Test support for effect-faktory: throwaway real Faktory servers, and a fake client that
 * records and runs jobs without one.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as FaktoryServer from "./FaktoryServer.js"

/** @since 0.2.0 */
export * as FakeFaktory from "./FakeFaktory.js"

/** @since 0.2.0 */
export * as TestWorker from "./TestWorker.js"

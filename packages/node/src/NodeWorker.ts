/**
 * Running a worker as a Node process: the worker layer with this host's identity and memory
 * figures, and `runMain`, which maps signals onto Faktory's lifecycle:
 *
 * - SIGTSTP: quiet (stop fetching, finish running jobs);
 * - SIGTERM or SIGINT: terminate (stop fetching, wait up to the shutdown timeout, FAIL what is
 *   left, END); a second SIGINT stops at once.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Worker } from "@effect-faktory/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Os from "node:os"
import * as NodeTransport from "./NodeTransport.js"

/**
 * Resident memory of this process in KB, as heartbeats report it.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * NodeWorker.rssKb() // 61440
 * ```
 *
 * @since 0.1.0
 * @category memory
 */
export const rssKb = (): number => Math.round(process.memoryUsage.rss() / 1024)

/**
 * A worker layer over Node sockets, identified by this host name and pid, reporting RSS.
 * Provide the handler layers to it.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * const WorkerLive = NodeWorker.layer({ queues: ["default"] }).pipe(
 *   Layer.provide(Ping.handle(([who]) => Effect.log(`pong ${who}`)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Worker.WorkerOptions = {}) =>
  Worker.layer({ hostname: Os.hostname(), pid: process.pid, rssKb, ...options }).pipe(
    Layer.provide(NodeTransport.layer)
  )

/**
 * Runs a worker until it stops: on a terminate from the server, SIGTERM or SIGINT. SIGTSTP
 * quiets it. The process exits when the worker has stopped and every finalizer has run.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Job } from "@effect-faktory/core"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * const Ping = Job.define("Ping", { args: Schema.Tuple(Schema.String) })
 * NodeWorker.runMain(NodeWorker.layer().pipe(Layer.provide(Ping.handle(([who]) => Effect.log(who)))))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <E>(workerLayer: Layer.Layer<Worker.Worker, E>): void => {
  exitOnSecondInterrupt()
  NodeRuntime.runMain(run(workerLayer))
}

/**
 * For entry points: the runtime turns the first SIGINT into a graceful terminate; a second
 * one exits at once with code 130, as a person pressing Ctrl-C twice expects.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * NodeWorker.exitOnSecondInterrupt()
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const exitOnSecondInterrupt = (): void => {
  let interrupts = 0
  process.on("SIGINT", () => {
    interrupts++
    if (interrupts >= 2) process.exit(130)
  })
}

/**
 * The program `runMain` runs: build the worker, quiet it on SIGTSTP, wait until it stops.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * NodeRuntime.runMain(NodeWorker.run(NodeWorker.layer()))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E>(workerLayer: Layer.Layer<Worker.Worker, E>): Effect.Effect<void, E> =>
  Effect.gen(function*() {
    const worker = yield* Worker.Worker
    const onQuiet = () => {
      Effect.runFork(worker.quiet)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("SIGTSTP", onQuiet)),
      () => Effect.sync(() => process.off("SIGTSTP", onQuiet))
    )
    yield* worker.awaitStopped
  }).pipe(Effect.scoped, Effect.provide(workerLayer))

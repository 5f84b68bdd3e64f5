/**
 * Running a worker as a Node process: the worker layer with this host's identity and memory
 * figures, and `runMain`, which maps signals onto Faktory's lifecycle:
 *
 * - SIGTSTP: quiet (stop fetching, finish running jobs);
 * - SIGTERM or SIGINT: terminate (stop fetching, wait up to the shutdown timeout, FAIL what is
 *   left, END); a second SIGINT stops at once;
 * - an uncaught exception (thrown from a timer or an event handler, outside any fiber): logged
 *   at ERROR with its stack, then terminate as for SIGTERM, and exit 1;
 * - an unhandled promise rejection (a promise nobody awaited): logged at ERROR; the worker
 *   carries on.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Worker } from "@effect-faktory/core"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
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
 * An exception was thrown outside any fiber (from a timer, say): the worker terminated
 * gracefully because of it, and the process exits non-zero.
 *
 * @example
 * ```ts
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * new NodeWorker.UncaughtExceptionError({ detail: "TypeError: x is undefined" }).message
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class UncaughtExceptionError extends Schema.TaggedError<UncaughtExceptionError>()("UncaughtExceptionError", {
  detail: Schema.String
}) {
  override get message(): string {
    return `terminated after an uncaught exception: ${this.detail}`
  }
}

const describeThrown = (thrown: unknown): string =>
  thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)

/**
 * The program `runMain` runs: build the worker, quiet it on SIGTSTP, wait until it stops.
 * While it runs, exceptions and rejections that escape every fiber are logged with the
 * worker's logger; an uncaught exception terminates the worker (its running jobs get the
 * shutdown window and are reported) and fails the program with `UncaughtExceptionError`.
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
export const run = <E>(workerLayer: Layer.Layer<Worker.Worker, E>): Effect.Effect<void, E | UncaughtExceptionError> =>
  Effect.gen(function*() {
    const worker = yield* Worker.Worker
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const crashed = yield* Deferred.make<void, UncaughtExceptionError>()
    const onQuiet = () => {
      runFork(worker.quiet)
    }
    const onRejection = (reason: unknown) => {
      runFork(Effect.logError("an unhandled promise rejection; the worker carries on", Cause.die(reason)))
    }
    const onException = (thrown: unknown) => {
      runFork(Effect.logError("an uncaught exception; terminating", Cause.die(thrown)))
      Deferred.unsafeDone(crashed, Effect.fail(new UncaughtExceptionError({ detail: describeThrown(thrown) })))
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("SIGTSTP", onQuiet)
        process.on("unhandledRejection", onRejection)
        process.on("uncaughtException", onException)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGTSTP", onQuiet)
          process.off("unhandledRejection", onRejection)
          process.off("uncaughtException", onException)
        })
    )
    yield* Effect.raceFirst(worker.awaitStopped, Deferred.await(crashed)).pipe(
      Effect.catchAll((error) => Effect.zipRight(worker.terminate, Effect.fail(error)))
    )
  }).pipe(Effect.scoped, Effect.provide(workerLayer))

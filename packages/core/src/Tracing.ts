/**
 * Which spans the library makes under a tracer that records them (an OpenTelemetry layer, say;
 * under Effect's built-in tracer it makes none).
 *
 * By default, only spans that explain a push or a job, or sit inside a span of the
 * application's:
 * - a push's PRODUCER span `send <queue>` (`send` for a `pushBulk`), and the job's CONSUMER span
 *   `process <queue>` where a worker runs it, in the same trace;
 * - `Faktory.<command>` (`Faktory.info`, `Faktory.mutate`, …) for a command the application
 *   calls inside a span of its own (a job's included), as a child of that span.
 *
 * With `traceInternals` on, also the library's own background work, each a trace of its own:
 * the worker's heartbeats (`Faktory.beat`, every 15 s by default), every connection opened
 * (`Connection.make`), and commands called outside any span. Off, as by default, a worker that
 * waits for jobs makes no span at all.
 *
 * @since 0.2.0
 */
import type * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Spans from "./internal/observability/spans.js"

/**
 * Whether the library also traces its own background work: heartbeats (`Faktory.beat`),
 * connections opened (`Connection.make`) and commands called outside any span, each as a trace
 * of its own. Default `false`. Read where that work starts: set it where the worker or client
 * is built (`Tracing.verbose`, or `Effect.locally` around `Worker.make`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tracing, Worker } from "@effect-faktory/core"
 *
 * const worker = Worker.make({ queues: ["default"] }).pipe(Effect.locally(Tracing.traceInternals, true))
 * ```
 *
 * @since 0.2.0
 * @category tracing
 */
export const traceInternals: FiberRef.FiberRef<boolean> = Spans.traceInternals

/**
 * Turns `traceInternals` on for the layers built with it, and the program it is provided to.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Tracing } from "@effect-faktory/core"
 * import { NodeWorker } from "@effect-faktory/node"
 *
 * // Heartbeats and connections traced too, each a trace of its own.
 * const WorkerLive = NodeWorker.layer({ queues: ["default"] }).pipe(Layer.provide(Tracing.verbose))
 * ```
 *
 * @since 0.2.0
 * @category tracing
 */
export const verbose: Layer.Layer<never> = Layer.locallyScoped(traceInternals, true)

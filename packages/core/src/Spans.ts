/**
 * Spans for the client's commands and the worker's jobs, made only when a tracer records them.
 *
 * Effect's built-in tracer, which every program has unless it installs another (an
 * OpenTelemetry layer, say), records nothing; yet making a span draws random trace and span
 * ids, which costs as much as the rest of a small command. Under it, no span is made.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

/**
 * The tracer every Effect program has unless it installs another.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Spans } from "@effect-faktory/core"
 *
 * const recording = Effect.map(Effect.tracer, (tracer) => tracer !== Spans.builtInTracer)
 * ```
 *
 * @since 0.1.0
 * @category tracing
 */
export const builtInTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * Whether the current tracer records spans (it is not the built-in one).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Spans } from "@effect-faktory/core"
 *
 * Effect.runSync(Spans.isRecording) // false
 * ```
 *
 * @since 0.1.0
 * @category tracing
 */
export const isRecording: Effect.Effect<boolean> = Effect.map(Effect.tracer, (tracer) => tracer !== builtInTracer)

/**
 * `Effect.withSpan` (without a captured stack trace) when the tracer records spans; the
 * effect as it is otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Spans } from "@effect-faktory/core"
 *
 * const traced = Effect.succeed(1).pipe(Spans.withSpan("Faktory.info"))
 * ```
 *
 * @since 0.1.0
 * @category tracing
 */
export const withSpan = (name: string, options?: Omit<Tracer.SpanOptions, "captureStackTrace">) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    isRecording,
    (recording) => recording ? Effect.withSpan(self, name, { ...options, captureStackTrace: false }) : self
  )

/**
 * `Effect.annotateCurrentSpan` when the tracer records spans. Under the built-in tracer there
 * is no span to annotate, and looking for one builds an exception (with its stack trace).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Spans } from "@effect-faktory/core"
 *
 * const program = Spans.annotateCurrentSpan({ "faktory.jid": "0123456789ab" }).pipe(Spans.withSpan("Faktory.push"))
 * ```
 *
 * @since 0.1.0
 * @category tracing
 */
export const annotateCurrentSpan = (attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(isRecording, (recording) => recording ? Effect.annotateCurrentSpan(attributes) : Effect.void)

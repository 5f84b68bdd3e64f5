/**
 * Spans for the client's commands and the worker's jobs, made only when a tracer records them.
 *
 * Effect's built-in tracer, which every program has unless it installs another (an
 * OpenTelemetry layer, say), records nothing; yet making a span draws random trace and span
 * ids, which costs as much as the rest of a small command. Under it, no span is made.
 *
 * Under a recording tracer, what explains a push or a job is always traced: a push's `send`
 * span and a job's `process` span. A command the application calls is traced inside the
 * caller's span, never as a trace of its own. The library's own background work (heartbeats,
 * opening connections) would be a trace of its own every time (thousands a day per worker):
 * it is traced only when `traceInternals` is on, as did commands called outside any span.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type * as JobPayload from "../../JobPayload.js"
import * as TraceContext from "../../TraceContext.js"

/**
 * The tracer every Effect program has unless it installs another.
 */
export const builtInTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * Whether the current tracer records spans (it is not the built-in one).
 */
export const isRecording: Effect.Effect<boolean> = Effect.map(Effect.tracer, (tracer) => tracer !== builtInTracer)

/**
 * Whether the library traces its own background work (heartbeats, opening connections) and
 * commands called outside any span. Off by default. One value for every copy of this module.
 */
export const traceInternals: FiberRef.FiberRef<boolean> = globalValue(
  Symbol.for("@effect-faktory/core/Tracing/traceInternals"),
  () => FiberRef.unsafeMake(false)
)

/** Whether a command's span is made: inside a span of the caller's, or with `traceInternals`. */
const commandTraced: Effect.Effect<boolean> = Effect.flatMap(
  FiberRef.get(traceInternals),
  (verbose) => verbose ? Effect.succeed(true) : Effect.map(Effect.serviceOption(Tracer.ParentSpan), Option.isSome)
)

/**
 * The span of a command the application calls: `Effect.withSpan` (without a captured stack
 * trace) when the tracer records spans and the caller is inside a span (or `traceInternals` is
 * on); the effect as it is otherwise.
 */
export const withSpan = (name: string, options?: Omit<Tracer.SpanOptions, "captureStackTrace">) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    isRecording,
    (recording) =>
      recording
        ? Effect.flatMap(
          commandTraced,
          (traced) => traced ? Effect.withSpan(self, name, { ...options, captureStackTrace: false }) : self
        )
        : self
  )

/**
 * The span of the library's own background work (a heartbeat, opening a connection): the root
 * of a trace of its own, made only when the tracer records spans and `traceInternals` is on.
 */
export const internal = (name: string, options?: Omit<Tracer.SpanOptions, "captureStackTrace" | "root">) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    isRecording,
    (recording) =>
      recording
        ? Effect.flatMap(
          FiberRef.get(traceInternals),
          (verbose) => verbose ? Effect.withSpan(self, name, { ...options, root: true, captureStackTrace: false }) : self
        )
        : self
  )

/**
 * `Effect.annotateCurrentSpan` when the tracer records spans. Under the built-in tracer there
 * is no span to annotate, and looking for one builds an exception (with its stack trace).
 */
export const annotateCurrentSpan = (attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(isRecording, (recording) => recording ? Effect.annotateCurrentSpan(attributes) : Effect.void)

/**
 * The attributes of OpenTelemetry's messaging semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/, as of semconv
 * 1.27 onwards, where the operation type `publish` became `send`): span names are
 * `{messaging.operation.name} {destination}` ("send mail", "process mail"), producer spans
 * are PRODUCER, push-based processing spans CONSUMER. Faktory's own fields go under
 * `messaging.faktory.*`, the namespace the conventions give a system's attributes.
 */
const messagingAttributes = (operation: "send" | "process", queue: string) => ({
  "messaging.system": "faktory",
  "messaging.operation.name": operation,
  "messaging.operation.type": operation,
  "messaging.destination.name": queue
})

/**
 * The producer span of one push: `send <queue>`, PRODUCER, with the job's id and jobtype.
 * `f` gets the job with the span's trace context in its `custom` (unless the caller put a
 * `traceparent` there), so the worker that runs it continues the trace.
 */
export const producer = <A, E, R>(
  job: JobPayload.PushableJob,
  f: (job: JobPayload.PushableJob) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const queue = job.queue ?? "default"
  return Effect.useSpan(`send ${queue}`, {
    kind: "producer",
    captureStackTrace: false,
    attributes: {
      ...messagingAttributes("send", queue),
      "messaging.message.id": job.jid,
      "messaging.faktory.jobtype": job.jobtype
    }
  }, (span) => {
    const custom = TraceContext.inject(job.custom, span)
    return Effect.withParentSpan(f(custom === job.custom ? job : { ...job, custom }), span)
  })
}

/**
 * The producer span of one bulk push: `send <queue>` when every job goes to one queue, `send`
 * otherwise, with the number of jobs; each job carries the span's trace context.
 */
export const producerMany = <A, E, R>(
  jobs: ReadonlyArray<JobPayload.PushableJob>,
  f: (jobs: ReadonlyArray<JobPayload.PushableJob>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const queues = new Set(jobs.map((job) => job.queue ?? "default"))
  const queue = queues.size === 1 ? [...queues][0]! : undefined
  return Effect.useSpan(queue === undefined ? "send" : `send ${queue}`, {
    kind: "producer",
    captureStackTrace: false,
    attributes: {
      "messaging.system": "faktory",
      "messaging.operation.name": "send",
      "messaging.operation.type": "send",
      ...(queue === undefined ? {} : { "messaging.destination.name": queue }),
      "messaging.batch.message_count": jobs.length
    }
  }, (span) => {
    const traced = jobs.map((job) => {
      const custom = TraceContext.inject(job.custom, span)
      return custom === job.custom ? job : { ...job, custom }
    })
    return Effect.withParentSpan(f(traced), span)
  })
}

/**
 * The options of a job's processing span, `process <queue>` (CONSUMER): a child of the
 * producer's span when the job carries its trace context (`TraceContext.parse`), else the root
 * of a trace of its own, never a child of whatever span the worker was started in.
 */
export const consumerOptions = (job: JobPayload.Job): Tracer.SpanOptions => {
  const queue = job.queue ?? "default"
  const parent = TraceContext.parse(job.custom)
  const attributes = {
    ...messagingAttributes("process", queue),
    "messaging.message.id": job.jid,
    "messaging.faktory.jobtype": job.jobtype,
    "messaging.faktory.retry_count": job.failure === undefined ? 0 : job.failure.retry_count + 1
  }
  return Option.isSome(parent)
    ? { kind: "consumer", captureStackTrace: false, attributes, parent: parent.value }
    : { kind: "consumer", captureStackTrace: false, attributes, root: true }
}

/**
 * The name of a job's processing span.
 */
export const consumerName = (job: JobPayload.Job): string => `process ${job.queue ?? "default"}`

/**
 * Opens a connection outside the caller's trace. The pool opens connections inside whichever
 * command first needs one, which would file the connection's span (and all it does) under
 * that unrelated command (a `Connection.make` under a push); detached, it is a trace of its
 * own, when traced at all (`traceInternals`).
 */
export const detached = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(self, (context: Context.Context<R>) => {
    // A parent span is never a requirement (spans read it when present), so the context
    // without it still provides all of R; `Context.omit` cannot say so for a generic R.
    const services = new Map(context.unsafeMap)
    services.delete(Tracer.ParentSpan.key)
    return Context.unsafeMake<R>(services)
  })

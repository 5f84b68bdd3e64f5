/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) carried in a job's `custom`, so that
 * one trace runs from the push, in one process, to the job's run, in another: the push writes
 * `traceparent` (and `tracestate` when the trace has one), the worker continues the trace from
 * them. Jobs from producers in other languages carry no context, or one this module cannot
 * read: they run in a trace of their own.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/**
 * The `tracestate` a trace carries: what other vendors put in it travels on with the trace
 * unchanged, as W3C Trace Context asks.
 *
 * @since 0.2.0
 * @category tags
 */
export class TraceState extends Context.Tag("@effect-faktory/core/TraceContext/TraceState")<TraceState, string>() {}

/** The key `@effect/opentelemetry` keeps an OpenTelemetry `TraceState` under in a span's context. */
const OtelTraceState = Context.GenericTag<unknown>("@effect/opentelemetry/Tracer/OtelTraceState")

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const HEX_TRACE_ID = /^[0-9a-f]{32}$/
const HEX_SPAN_ID = /^[0-9a-f]{16}$/
const ZERO_TRACE_ID = "0".repeat(32)
const ZERO_SPAN_ID = "0".repeat(16)
/** W3C Trace Context asks to propagate at least 512 characters of `tracestate`; more is dropped here. */
const MAX_TRACESTATE = 512

/**
 * The remote parent a job's `custom` names, or none: no `traceparent`, or one that is not
 * W3C's (version `ff`, all-zero ids, upper case, wrong lengths). A `tracestate` that is not a
 * string of at most 512 characters is left behind; the parent still counts.
 *
 * @example
 * ```ts
 * import { TraceContext } from "@effect-faktory/core"
 *
 * TraceContext.parse({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" })
 * // Option.some(ExternalSpan { traceId: "4bf9…", spanId: "00f0…", sampled: true })
 * TraceContext.parse({ traceparent: "garbage" }) // Option.none()
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const parse = (custom: Readonly<Record<string, unknown>> | undefined): Option.Option<Tracer.ExternalSpan> => {
  const traceparent = custom?.["traceparent"]
  if (typeof traceparent !== "string") return Option.none()
  const match = TRACEPARENT.exec(traceparent)
  if (match === null) return Option.none()
  const [, version, traceId, spanId, flags, rest] = match
  // Version 00 has exactly four fields; later versions may add fields after a dash.
  if (version === "ff" || (version === "00" && rest !== undefined)) return Option.none()
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return Option.none()
  const tracestate = custom?.["tracestate"]
  const state = typeof tracestate === "string" && tracestate.trim() !== "" && tracestate.length <= MAX_TRACESTATE
    ? Context.make(TraceState, tracestate)
    : Context.empty()
  return Option.some(Tracer.externalSpan({
    traceId: traceId!,
    spanId: spanId!,
    sampled: (Number.parseInt(flags!, 16) & 1) === 1,
    context: state
  }))
}

/** The `tracestate` of the trace `span` belongs to: the nearest one up its chain of parents. */
const traceStateOf = (span: Tracer.AnySpan): string | undefined => {
  let current: Tracer.AnySpan | undefined = span
  for (let depth = 0; current !== undefined && depth < 64; depth++) {
    const own: Option.Option<string> = Context.getOption(current.context, TraceState)
    if (Option.isSome(own)) return own.value
    const otel: Option.Option<unknown> = Context.getOption(current.context, OtelTraceState)
    if (Option.isSome(otel)) {
      const serialized = serializeOtel(otel.value)
      if (serialized !== undefined) return serialized
    }
    current = current._tag === "Span" ? Option.getOrUndefined(current.parent) : undefined
  }
  return undefined
}

/** An OpenTelemetry `TraceState`, read by its shape: this package does not depend on OpenTelemetry. */
const serializeOtel = (state: unknown): string | undefined => {
  if (typeof state !== "object" || state === null || !("serialize" in state)) return undefined
  const serialize = state.serialize
  if (typeof serialize !== "function") return undefined
  const value: unknown = Reflect.apply(serialize, state, [])
  return typeof value === "string" && value !== "" ? value : undefined
}

/**
 * The `traceparent` (and `tracestate`, when the trace has one) that make `span` the parent of
 * what continues it elsewhere; none when the span's ids are not W3C's (a tracer with ids of
 * its own).
 *
 * @example
 * ```ts
 * import { Tracer } from "effect"
 * import { TraceContext } from "@effect-faktory/core"
 *
 * const span = Tracer.externalSpan({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" })
 * TraceContext.format(span) // Option.some({ traceparent: "00-4bf9…-00f0…-01" })
 * ```
 *
 * @since 0.2.0
 * @category formatting
 */
export const format = (
  span: Tracer.AnySpan
): Option.Option<{ readonly traceparent: string; readonly tracestate?: string }> => {
  if (!HEX_TRACE_ID.test(span.traceId) || !HEX_SPAN_ID.test(span.spanId)) return Option.none()
  if (span.traceId === ZERO_TRACE_ID || span.spanId === ZERO_SPAN_ID) return Option.none()
  const traceparent = `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  const tracestate = traceStateOf(span)
  return Option.some(tracestate === undefined ? { traceparent } : { traceparent, tracestate })
}

/**
 * `custom` with the trace context of `span` added. A `traceparent` already there is the
 * caller's choice and is kept as it is, with its `tracestate` (OpenTelemetry's messaging
 * conventions: a creation context the user provides "SHOULD NOT be modified").
 *
 * @example
 * ```ts
 * import { Tracer } from "effect"
 * import { TraceContext } from "@effect-faktory/core"
 *
 * const span = Tracer.externalSpan({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" })
 * TraceContext.inject({ tenant: "acme" }, span) // { tenant: "acme", traceparent: "00-4bf9…-00f0…-01" }
 * ```
 *
 * @since 0.2.0
 * @category formatting
 */
export const inject = (
  custom: Readonly<Record<string, unknown>> | undefined,
  span: Tracer.AnySpan
): Readonly<Record<string, unknown>> | undefined => {
  if (custom !== undefined && "traceparent" in custom) return custom
  const context = format(span)
  if (Option.isNone(context)) return custom
  return { ...custom, ...context.value }
}

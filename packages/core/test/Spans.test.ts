import { describe, expect, it } from "@effect/vitest"
import { Tracing } from "@effect-faktory/core"
import { Effect, Option } from "effect"
import * as Spans from "../dist/internal/observability/spans.js"
import { recordingTracer } from "./RecordingTracer.js"

describe("Spans", () => {
  it.effect("the built-in tracer records nothing, so no span is made under it", () =>
    Effect.gen(function*() {
      expect(yield* Spans.isRecording).toBe(false)
      const inner = yield* Effect.option(Effect.currentSpan).pipe(
        Spans.withSpan("Faktory.info"),
        Effect.zipLeft(Spans.annotateCurrentSpan({ ignored: true }))
      )
      expect(Option.isNone(inner)).toBe(true)
    }))

  it.effect("a recording tracer gets a command's span inside the caller's, with its attributes and annotations", () =>
    Effect.gen(function*() {
      const { made, tracer } = yield* recordingTracer
      const program = Effect.gen(function*() {
        expect(yield* Spans.isRecording).toBe(true)
        yield* Spans.annotateCurrentSpan({ "faktory.jid": "0123456789ab" })
        return (yield* Effect.currentSpan).name
      }).pipe(Spans.withSpan("Faktory.push", { kind: "producer", attributes: { "faktory.queue": "mail" } }))
      expect(yield* Effect.withTracer(Effect.withSpan(program, "caller"), tracer)).toBe("Faktory.push")
      expect(made.map((span) => span.name)).toEqual(["caller", "Faktory.push"])
      const command = made[1]!
      expect(command.kind).toBe("producer")
      expect(Option.map(command.parent, (parent) => parent.spanId)).toEqual(Option.some(made[0]!.spanId))
      expect(Object.fromEntries(command.attributes)).toEqual({ "faktory.queue": "mail", "faktory.jid": "0123456789ab" })
      expect(command.status._tag).toBe("Ended")
    }))

  it.effect("a command called outside any span makes no trace of its own, unless traceInternals is on", () =>
    Effect.gen(function*() {
      const { made, tracer } = yield* recordingTracer
      const command = Effect.void.pipe(Spans.withSpan("Faktory.info"))
      yield* Effect.withTracer(command, tracer)
      expect(made).toEqual([])
      yield* Effect.withTracer(command, tracer).pipe(Effect.locally(Tracing.traceInternals, true))
      expect(made.map((span) => [span.name, Option.isNone(span.parent)])).toEqual([["Faktory.info", true]])
    }))

  it.effect("the library's own work is traced only with traceInternals, as a trace of its own even inside a span", () =>
    Effect.gen(function*() {
      const { made, tracer } = yield* recordingTracer
      const beat = Effect.void.pipe(Spans.internal("Faktory.beat"))
      yield* Effect.withTracer(Effect.withSpan(beat, "caller"), tracer)
      expect(made.map((span) => span.name)).toEqual(["caller"])
      made.length = 0
      yield* Effect.withTracer(Effect.withSpan(beat, "caller"), tracer).pipe(Effect.provide(Tracing.verbose))
      expect(made.map((span) => [span.name, Option.isNone(span.parent)])).toEqual([["caller", true], ["Faktory.beat", true]])
    }))
})

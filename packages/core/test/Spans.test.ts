import { describe, expect, it } from "@effect/vitest"
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

  it.effect("a recording tracer gets the span, its attributes and its annotations", () =>
    Effect.gen(function*() {
      const { made, tracer } = yield* recordingTracer
      const program = Effect.gen(function*() {
        expect(yield* Spans.isRecording).toBe(true)
        yield* Spans.annotateCurrentSpan({ "faktory.jid": "0123456789ab" })
        return (yield* Effect.currentSpan).name
      }).pipe(Spans.withSpan("Faktory.push", { kind: "producer", attributes: { "faktory.queue": "mail" } }))
      expect(yield* Effect.withTracer(program, tracer)).toBe("Faktory.push")
      expect(made.map((span) => span.name)).toEqual(["Faktory.push"])
      expect(made[0]?.kind).toBe("producer")
      expect(Object.fromEntries(made[0]!.attributes)).toEqual({ "faktory.queue": "mail", "faktory.jid": "0123456789ab" })
      expect(made[0]?.status._tag).toBe("Ended")
    }))
})

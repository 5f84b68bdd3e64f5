import { describe, expect, it } from "@effect/vitest"
import { FakeFaktory } from "@effect-faktory/testing"
import { Effect, Layer } from "effect"
import { Handlers, ResizeImage, SendEmail } from "../src/jobs.js"

// The demo's jobs, tested with no server. `it.live`: ResizeImage's handler waits 50 ms, which
// under `it.effect` would wait for a TestClock nobody moves.
const Fake = FakeFaktory.layer(Layer.mergeAll(...Handlers))
const Inline = FakeFaktory.layerInline(Layer.mergeAll(...Handlers))

describe("the demo's jobs", () => {
  it.live("pushes are recorded with their queue and typed arguments, then drained by the handlers", () =>
    Effect.gen(function*() {
      yield* SendEmail.push(["ada@example.com", "welcome"])
      yield* ResizeImage.pushBulk([640, 1280].map((width) => ({ file: "photo.jpg", width })))

      expect(yield* FakeFaktory.jobs(SendEmail)).toEqual([["ada@example.com", "welcome"]])
      expect(yield* FakeFaktory.jobs(ResizeImage)).toEqual([
        { file: "photo.jpg", width: 640 },
        { file: "photo.jpg", width: 1280 }
      ])
      expect((yield* FakeFaktory.payloads({ queue: "critical" })).map((job) => job.jobtype)).toEqual(["SendEmail"])
      expect((yield* FakeFaktory.payloads(SendEmail))[0]?.retry).toBe(5)

      expect(yield* FakeFaktory.drain()).toBe(3)
      expect(yield* FakeFaktory.payloads()).toEqual([])
    }).pipe(Effect.provide(Fake)))

  it.live("the Schema refuses a bad width before anything is recorded", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(ResizeImage.push({ file: "huge.jpg", width: 100_000 }))
      expect(refused._tag).toBe("JobValidationError")
      expect(yield* FakeFaktory.pushed()).toEqual([])
    }).pipe(Effect.provide(Fake)))

  it.live("inline, a push returns once its job has run", () =>
    Effect.gen(function*() {
      yield* ResizeImage.push({ file: "photo.jpg", width: 320 })
      expect((yield* FakeFaktory.pushed(ResizeImage)).length).toBe(1)
      expect(yield* FakeFaktory.payloads()).toEqual([])
    }).pipe(Effect.provide(Inline)))
})

import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Option } from "effect"

// `layer(...)` builds its layer with the TestClock installed, and nobody adjusts it: a server
// whose readiness wait slept on the ambient clock never came up here.
const Env = FaktoryServer.clientLayer().pipe(Layer.provideMerge(FaktoryServer.layer({ webUi: false })))

layer(Env, { timeout: "30 seconds" })("FaktoryServer.layer under @effect/vitest's layer() (TestClock)", (it) => {
  it.effect("starts, and a client reaches it", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jid = yield* client.push({ jobtype: "UnderTestClock" })
      const job = yield* client.fetch(["default"])
      expect(Option.map(job, (j) => j.jid)).toEqual(Option.some(jid))
    }))
})

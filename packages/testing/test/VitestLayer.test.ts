import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { Effect, Option } from "effect"
import { Env } from "./support.js"

// `layer(...)` builds its layer (Env: FaktoryServer.layer and a clientLayer) with the TestClock
// installed, and nobody adjusts it: a server whose readiness wait slept on the ambient clock
// never came up here.

layer(Env, { timeout: "30 seconds" })("FaktoryServer.layer under @effect/vitest's layer() (TestClock)", (it) => {
  it.effect("starts, and a client reaches it", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const jid = yield* client.push({ jobtype: "UnderTestClock" })
      const job = yield* client.fetch(["default"])
      expect(Option.map(job, (j) => j.jid)).toEqual(Option.some(jid))
    }))
})

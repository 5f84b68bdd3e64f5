import { expect, layer } from "@effect/vitest"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Option, Redacted } from "effect"
import { client } from "./support/server.js"

const password = "s3cret p@ss:word"

layer(FaktoryServer.layer({ password, webUi: false }), { excludeTestServices: true })("a server with a password", (it) => {
  it.effect("accepts the right password from the URL", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const faktory = yield* client(server.clientOptions)
      const jid = yield* faktory.push({ jobtype: "Secret", queue: "auth-q" })
      const job = yield* faktory.fetch(["auth-q"])
      expect(Option.map(job, (j) => j.jid)).toEqual(Option.some(jid))
    }).pipe(Effect.scoped))

  it.effect("accepts the right password as an option, as a Redacted", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const faktory = yield* client({ url: `tcp://127.0.0.1:${server.port}`, password: Redacted.make(password) })
      expect((yield* faktory.info).server.faktory_version).toBe("1.10.0")
    }).pipe(Effect.scoped))

  it.effect("refuses a wrong password at once with an AuthenticationError that does not repeat it", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const faktory = yield* client({ url: `tcp://:wrong-pass@127.0.0.1:${server.port}` })
      const started = Date.now()
      const error = yield* Effect.flip(faktory.push({ jobtype: "Secret" }))
      expect(error._tag).toBe("AuthenticationError")
      expect(error.message).toContain("Invalid password")
      expect(error.message).not.toContain("wrong-pass")
      expect(JSON.stringify(error)).not.toContain("wrong-pass")
      // Not retried: a bad password does not fix itself.
      expect(Date.now() - started).toBeLessThan(1000)
    }).pipe(Effect.scoped))

  it.effect("says so when the server wants a password and none was given", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const faktory = yield* client({ url: `tcp://127.0.0.1:${server.port}` })
      const error = yield* Effect.flip(faktory.info)
      expect(error._tag).toBe("AuthenticationError")
      expect(error.message).toContain("requires a password")
    }).pipe(Effect.scoped))

  it.effect("says where the password goes when the URL gives it as a user name", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const faktory = yield* client({ url: `tcp://${encodeURIComponent(password)}@127.0.0.1:${server.port}` })
      const error = yield* Effect.flip(faktory.info)
      expect(error._tag).toBe("AuthenticationError")
      expect(error.message).toContain("tcp://:PASSWORD@host")
      expect(error.message + JSON.stringify(error)).not.toContain("s3cret")
    }).pipe(Effect.scoped))
})

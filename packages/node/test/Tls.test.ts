import { expect, layer } from "@effect/vitest"
import { type Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Option, Schedule } from "effect"
import * as Support from "./support/server.js"

/** A client over Node sockets that does not retry connecting. */
const client = (options: Client.ClientOptions) => Support.client({ connectRetry: Schedule.recurs(0), ...options })

layer(FaktoryServer.layer({ tls: true, password: "tls-pass", webUi: false }), { excludeTestServices: true })(
  "a TLS-only server",
  (it) => {
    it.effect("works over tcp+tls:// when its certificate is trusted", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        expect(server.url.startsWith("tcp+tls://")).toBe(true)
        const faktory = yield* client(server.clientOptions)
        const jid = yield* faktory.push({ jobtype: "Encrypted", queue: "tls-q" })
        const job = yield* faktory.fetch(["tls-q"])
        expect(Option.map(job, (j) => j.jid)).toEqual(Option.some(jid))
        yield* faktory.ack(jid)
      }).pipe(Effect.scoped))

    it.effect("refuses an untrusted certificate by default", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const faktory = yield* client({ url: server.url })
        const error = yield* Effect.flip(faktory.info)
        expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Tls" })
      }).pipe(Effect.scoped))

    it.effect("accepts any certificate when verification is turned off explicitly", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const faktory = yield* client({ url: server.url, tls: { rejectUnauthorized: false } })
        expect((yield* faktory.info).server.faktory_version).toBe("1.10.0")
      }).pipe(Effect.scoped))

    it.effect("a plaintext client times out with a hint about TLS", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const faktory = yield* client({ url: `tcp://:tls-pass@127.0.0.1:${server.port}`, handshakeTimeout: "1 second" })
        const error = yield* Effect.flip(faktory.info)
        expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Timeout" })
        expect(error.message).toContain("TLS")
      }).pipe(Effect.scoped))

    it.effect("a plaintext client that the server drops before the handshake's deadline gets the hint too", () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        // The default handshake deadline (5 s) outlasts the server's patience with silence.
        const faktory = yield* client({ url: `tcp://:tls-pass@127.0.0.1:${server.port}` })
        const error = yield* Effect.flip(faktory.info)
        expect(error._tag).toBe("ConnectionError")
        expect(error.message).toContain("use tcp+tls://")
        expect(error.message).not.toContain("tls-pass")
      }).pipe(Effect.scoped))

    it.effect("a client pointed at the Web UI's port is told which port Faktory's is", () =>
      Effect.gen(function*() {
        const other = yield* FaktoryServer.make({})
        const port = new URL(String(other.webUrl)).port
        const faktory = yield* client({ url: `tcp://127.0.0.1:${port}` })
        const error = yield* Effect.flip(faktory.info)
        expect(error._tag).toBe("ConnectionError")
        expect(error.message).toContain("not the Web UI's")
      }).pipe(Effect.scoped))

    it.effect("a TLS client on a plaintext server fails with a TLS error", () =>
      Effect.gen(function*() {
        const plain = yield* FaktoryServer.make({ webUi: false })
        const faktory = yield* client({ url: `tcp+tls://127.0.0.1:${plain.port}` })
        const error = yield* Effect.flip(faktory.info)
        expect(error).toMatchObject({ _tag: "ConnectionError", reason: "Tls" })
        // Said in words a person can act on, not OpenSSL's.
        expect(error.message).toContain("does not speak TLS on this port")
        expect(error.message).not.toContain("ssl3_get_record")
      }).pipe(Effect.scoped))
  }
)

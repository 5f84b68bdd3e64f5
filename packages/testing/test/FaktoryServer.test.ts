import { describe, expect, it } from "@effect/vitest"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Exit, Scope } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { processesUsing } from "./support.js"

const greets = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("data", (chunk: Buffer) => {
      socket.destroy()
      resume(Effect.succeed(chunk.toString().startsWith("+HI ")))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

describe("FaktoryServer", () => {
  it("finds the pinned faktory binary", () => {
    const binary = FaktoryServer.findBinary()
    expect(binary).toBeDefined()
    const version = Fs.readFileSync(new URL("../../../FAKTORY_VERSION", import.meta.url), "utf8").trim()
    // The banner goes to stderr.
    const banner = execFileSync("sh", ["-c", `"${binary}" -v 2>&1`], { encoding: "utf8" })
    expect(banner).toContain(`Faktory ${version}`)
  })

  it.live("starts on free ports, stops, starts again, and leaves nothing behind", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* FaktoryServer.make({ password: "pw" }).pipe(Scope.extend(scope))
      expect(server.url).toBe(`tcp://:pw@127.0.0.1:${server.port}`)
      expect(server.webUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(yield* greets(server.port)).toBe(true)
      expect(Fs.existsSync(server.directory)).toBe(true)
      expect(processesUsing(server.directory)).toContain("redis-server")

      const health = yield* Effect.promise(() => fetch(`${server.webUrl}/health`).then((response) => response.status))
      expect(health).toBe(200)

      yield* server.stop
      expect(yield* greets(server.port)).toBe(false)
      yield* server.start
      expect(yield* greets(server.port)).toBe(true)

      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(server.directory)).toBe(false)
      expect(processesUsing(server.directory)).toBe("")
      expect(yield* greets(server.port)).toBe(false)
    }))

  it.live("makes a TLS server with a certificate to trust", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ tls: true, webUi: false })
      expect(server.url.startsWith("tcp+tls://127.0.0.1:")).toBe(true)
      expect(server.certificate).toContain("BEGIN CERTIFICATE")
      expect(server.clientOptions.tls?.ca).toBe(server.certificate)
    }).pipe(Effect.scoped))

  it.live("fails clearly when the binary is missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(FaktoryServer.make({ binary: "/nonexistent/faktory" }).pipe(Effect.scoped))
      expect(error._tag).toBe("FaktoryServerError")
      expect(error.message).toContain("/nonexistent/faktory is not an executable file")
      expect(error.message).toContain(`go install github.com/contribsys/faktory/cmd/faktory@v${FaktoryServer.FAKTORY_VERSION}`)
      expect(error.message).toContain("FAKTORY_BIN")
    }))

  it.live("names FAKTORY_BIN when it points at nothing (not 'no binary on PATH')", () =>
    Effect.gen(function*() {
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const before = process.env.FAKTORY_BIN
          process.env.FAKTORY_BIN = "/nope/faktory"
          return before
        }),
        (before) => Effect.sync(() => {
          if (before === undefined) delete process.env.FAKTORY_BIN
          else process.env.FAKTORY_BIN = before
        })
      )
      const error = yield* Effect.flip(FaktoryServer.make({ webUi: false }))
      expect(error.message).toContain("FAKTORY_BIN=/nope/faktory is not an executable file")
    }).pipe(Effect.scoped))

  it("pins the Faktory version the repository tests against", () => {
    const version = Fs.readFileSync(new URL("../../../FAKTORY_VERSION", import.meta.url), "utf8").trim()
    expect(FaktoryServer.FAKTORY_VERSION).toBe(version)
  })
})

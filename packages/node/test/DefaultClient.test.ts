import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Option } from "effect"
import { build } from "esbuild"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fixture, node, runToEnd } from "./support/binary.js"
import { env } from "./support/server.js"

const headline = fixture("push-one.mjs")

/**
 * Runs a script in a fresh Node process; resolves with its output, exit code and run time. A
 * script that does not exit by itself is killed after 15 s, and the test sees a signal, not a code.
 */
const runScript = (variables: Record<string, string>, jobtype: string, script = headline) =>
  Effect.map(runToEnd(node(script, [jobtype], variables), 15), ({ code, millis, stdout }) => ({ code, stdout: stdout.trim(), millis }))

const Env = env({ password: "pw" })

layer(Env, { excludeTestServices: true })("push(job) with no layer", (it) => {
  it.effect("pushes from FAKTORY_URL and the script exits by itself", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runScript({ FAKTORY_URL: server.url }, "ViaEnv")
      expect(result.code).toBe(0)
      expect(result.millis).toBeLessThan(10_000)
      const job = yield* Effect.flatMap(Client.Client, (client) => client.fetch(["script-q"]))
      expect(Option.map(job, (j) => [j.jid, j.jobtype, j.args])).toEqual(Option.some([result.stdout, "ViaEnv", [1, "two"]]))
    }))

  it.effect("follows FAKTORY_PROVIDER", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runScript({ FAKTORY_PROVIDER: "JOBS_URL", JOBS_URL: server.url }, "ViaProvider")
      expect(result.code).toBe(0)
      const job = yield* Effect.flatMap(Client.Client, (client) => client.fetch(["script-q"]))
      expect(Option.map(job, (j) => j.jobtype)).toEqual(Option.some("ViaProvider"))
    }))

  it.effect("rejects with a typed error on a bad URL, and still exits", () =>
    Effect.gen(function*() {
      const result = yield* runScript({ FAKTORY_URL: "http://:pw@localhost:7419" }, "Bad")
      expect(result.code).toBe(1)
      expect(result.stdout).toContain("InvalidUrlError")
      expect(result.stdout).not.toContain(":pw@")
    }))

  it.effect("never prints the password of a URL with no @ after it, nor of a URL put in FAKTORY_PROVIDER", () =>
    Effect.gen(function*() {
      for (
        const env of [
          { FAKTORY_URL: "tcp://:hunter2" },
          { FAKTORY_URL: "tcp://:hunter2%40127.0.0.1:17421" },
          { FAKTORY_URL: "tcp://:a%40hunter2" },
          { FAKTORY_URL: "tcp://:hunter2/x" },
          { FAKTORY_URL: "tcp://localhost:hunter2" },
          { FAKTORY_PROVIDER: "tcp://:hunter2@127.0.0.1:17419" }
        ]
      ) {
        const result = yield* runScript(env, "Leak")
        expect(result.code).toBe(1)
        expect(result.stdout).toMatch(/^InvalidUrlError: invalid Faktory URL /)
        expect(result.stdout).not.toContain("hunter2")
      }
    }))

  it.effect("reads FAKTORY_URL when FAKTORY_PROVIDER is set but empty", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runScript({ FAKTORY_PROVIDER: "", FAKTORY_URL: server.url }, "ViaEmptyProvider")
      expect(result.code).toBe(0)
      const job = yield* Effect.flatMap(Client.Client, (client) => client.fetch(["script-q"]))
      expect(Option.map(job, (j) => j.jobtype)).toEqual(Option.some("ViaEmptyProvider"))
    }))

  it.effect("rejects with a ConnectionError when the server is down, and still exits", () =>
    Effect.gen(function*() {
      const port = yield* FaktoryServer.freePort
      const result = yield* runScript({ FAKTORY_URL: `tcp://127.0.0.1:${port}` }, "Down")
      expect(result.code).toBe(1)
      expect(result.stdout).toContain("ConnectionError: Refused")
    }))

  it.effect("rejects with an AuthenticationError on a wrong password", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runScript({ FAKTORY_URL: `tcp://:nope@127.0.0.1:${server.port}` }, "Denied")
      expect(result.code).toBe(1)
      expect(result.stdout).toContain("AuthenticationError")
    }))

  it.effect("logs at DEBUG the server the default client uses, without the password", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runScript({ FAKTORY_URL: server.url, DEBUG: "1" }, "Logged")
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`the default client uses tcp://:<redacted>@127.0.0.1:${server.port} over node sockets`)
      expect(result.stdout).not.toContain(":pw@")
      yield* Effect.flatMap(Client.Client, (client) => client.fetch(["script-q"]))
    }))

  it.effect("push from core with no platform imported fails with PlatformMissingError, naming the fix", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const result = yield* runScript({ FAKTORY_URL: server.url }, "-", fixture("push-core-only.mjs"))
      expect(result.code).toBe(1)
      expect(result.stdout).toContain("PlatformMissingError")
      expect(result.stdout).toContain("import \"@effect-faktory/node\"")
    }))

  it.effect("the headline bundled by esbuild into one file pushes with no node_modules beside it", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const directory = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fk-bundle-"))),
        (made) => Effect.sync(() => Fs.rmSync(made, { recursive: true, force: true }))
      )
      const bundle = Path.join(directory, "push.mjs")
      yield* Effect.promise(() =>
        build({ entryPoints: [headline], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "silent" })
      )
      const result = yield* runScript({ FAKTORY_URL: server.url }, "Bundled", bundle)
      expect(result.stdout).not.toContain("Error")
      expect(result.code).toBe(0)
      const job = yield* Effect.flatMap(Client.Client, (client) => client.fetch(["script-q"]))
      expect(Option.map(job, (j) => [j.jid, j.jobtype])).toEqual(Option.some([result.stdout, "Bundled"]))
    }).pipe(Effect.scoped))
})

import { describe, expect, it } from "@effect/vitest"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import * as Net from "node:net"
import { faktoryWorker, fixture, runToEnd, waitForOutput } from "./support/binary.js"

// The faktory-worker binary for operators: its first lines follow --log-format (a collector
// parsing JSON must not meet a plain line), --start-timeout ends a start that cannot reach the
// server, --health-port serves the probes.

const jobs = fixture("jobs.mjs")
const secret = "Hq7sPw2xLmNv"

/** Each line of `text`, parsed: fails the test on a line that is not a JSON object. */
const jsonLines = (text: string): Array<Record<string, unknown>> =>
  text.split("\n").filter((line) => line !== "").map((line) => {
    const parsed: unknown = JSON.parse(line)
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`not an object: ${line}`)
    return Object.fromEntries(Object.entries(parsed))
  })

/** The binary's run in JSON: nothing on stderr, every stdout line a record, the last an ERROR; exit 1. */
const failsInJson = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const result = yield* runToEnd(faktoryWorker(args, env), 30)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(1)
    const lines = jsonLines(result.stdout)
    const last = lines.at(-1)
    expect(last).toMatchObject({ logLevel: "ERROR", spans: {} })
    expect(Object.keys(last ?? {}).sort()).toEqual(["annotations", "fiberId", "logLevel", "message", "spans", "timestamp"])
    expect(result.output).not.toContain(secret)
    return { lines, message: String(last?.message), annotations: last?.annotations, millis: result.millis }
  })

describe("faktory-worker --log-format json: every line JSON, failures too", () => {
  for (
    const [name, args, says] of [
      ["a bad flag after the format", ["-r", jobs, "--log-format", "json", "-c", "abc"], `--concurrency "abc": expected a whole number`],
      ["a bad flag before the format", ["--bogus", "-r", jobs, "--log-format=json"], `unknown argument "--bogus"`],
      ["no module", ["--log-format", "json"], "name at least one module of handlers"],
      ["a URL holding a password where a queue goes", ["-r", jobs, "--log-format", "json", "-q", `tcp://:${secret}@x`], "--queue"],
      ["a bad --start-timeout", ["-r", jobs, "--log-format", "json", "--start-timeout", "soon"], `--start-timeout "soon": expected a duration`],
      ["a bad --health-port", ["-r", jobs, "--log-format", "json", "--health-port", "99999"], `--health-port "99999": expected a whole number from 1 to 65535`]
    ] as const
  ) {
    it.live(`${name}: one JSON ERROR record, exit 1`, () =>
      Effect.gen(function*() {
        const { annotations, lines, message } = yield* failsInJson(args)
        expect(lines).toHaveLength(1)
        expect(message).toContain(says)
        expect(annotations).toEqual({ error: "CliError" })
      }), { timeout: 40_000 })
  }

  it.live("FAKTORY_LOG_FORMAT=json counts as the flag does", () =>
    Effect.gen(function*() {
      const { message } = yield* failsInJson([], { FAKTORY_LOG_FORMAT: "json" })
      expect(message).toContain("name at least one module of handlers")
    }), { timeout: 40_000 })

  it.live("an unknown --log-format is a plain-text error, since the format is unknown", () =>
    Effect.gen(function*() {
      const result = yield* runToEnd(faktoryWorker(["-r", jobs, "--log-format", "yaml", "-c", "abc"]))
      expect(result.code).toBe(1)
      expect(result.stdout).toBe("")
      expect(result.stderr).toBe(`faktory-worker: --log-format "yaml": expected json or pretty\n`)
    }), { timeout: 40_000 })

  it.live("a handler layer that needs a missing service: a JSON ERROR naming the service", () =>
    Effect.gen(function*() {
      const { message } = yield* failsInJson(["-r", fixture("needs-db.mjs"), "--log-format", "json", "-u", "tcp://127.0.0.1:1"])
      expect(message).toContain("a handler layer needs the service app/Db")
    }), { timeout: 40_000 })

  it.live("no password for a server that wants one, and a wrong one: JSON ERROR records without the password", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false, password: secret })
      const none = yield* failsInJson(["-r", jobs, "--log-format", "json", "-u", `tcp://127.0.0.1:${server.port}`])
      expect(none.annotations).toEqual({ error: "AuthenticationError" })
      const wrong = yield* failsInJson(["-r", jobs, "--log-format", "json"], { FAKTORY_URL: `tcp://:not-${secret}@127.0.0.1:${server.port}` })
      expect(wrong.annotations).toEqual({ error: "AuthenticationError" })
      console.log(`no password: ${none.message}\nwrong password: ${wrong.message}`)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})

describe("faktory-worker --start-timeout", () => {
  it.live("a closed port: the WARN, then after the deadline an ERROR with the reason (Refused), exit 1; all JSON", () =>
    Effect.gen(function*() {
      const port = yield* FaktoryServer.freePort
      const { annotations, lines, message, millis } = yield* failsInJson([
        "-r",
        jobs,
        "--log-format",
        "json",
        "--start-timeout",
        "3s",
        "-u",
        `tcp://127.0.0.1:${port}`
      ])
      expect(lines[0]).toMatchObject({ logLevel: "WARN" })
      expect(String(lines[0]?.message)).toContain("for up to 3s")
      expect(message).toMatch(/^could not start within 3s: the server at 127\.0\.0\.1:\d+ was not reached \(\d+ attempts?\); the last: Refused/)
      expect(annotations).toEqual({ error: "StartTimeoutError" })
      console.log(`--start-timeout 3s, closed port: exit after ${millis} ms (node start-up included)`)
    }), { timeout: 40_000 })

  it.live("the Web UI's port: exit 1 with one plain line asking whether this is Faktory's port", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: true })
      const web = new URL(server.webUrl ?? "")
      const result = yield* runToEnd(faktoryWorker(["-r", jobs, "--start-timeout", "12s", "-u", `tcp://127.0.0.1:${web.port}`]), 40)
      expect(result.code).toBe(1)
      const failure = result.stderr.trim().split("\n")
      expect(failure).toHaveLength(1)
      expect(failure[0]).toMatch(/^faktory-worker: could not start within 12s: .*is this Faktory's port \(7419, not the Web UI's 7420\)\?/)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})

describe("faktory-worker --health-port", () => {
  it.live("serves /ready and /alive over HTTP while the worker runs", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      const port = yield* FaktoryServer.freePort
      const worker = yield* faktoryWorker(["-r", jobs, "-q", "cli-probe-q", "-t", "1", "--health-port", String(port), "-u", server.url])
      yield* waitForOutput(worker, "started")
      const ready = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/ready`))
      expect(ready.status).toBe(200)
      expect(yield* Effect.promise(() => ready.json())).toMatchObject({ ready: true, state: "running" })
      const alive = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/alive`))
      expect(alive.status).toBe(200)
      expect(worker.output()).toContain(`health probes on http://0.0.0.0:${port}`)
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a taken port: exit 1 at once, naming the port, without waiting for a server that is down", () =>
    Effect.gen(function*() {
      const port = yield* FaktoryServer.freePort
      const closed = yield* FaktoryServer.freePort
      const squatter = Net.createServer()
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void squatter.listen(port, () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void squatter.close(() => resume(Effect.void)))
      )
      const result = yield* runToEnd(faktoryWorker(["-r", jobs, "--health-port", String(port), "-u", `tcp://127.0.0.1:${closed}`]), 20)
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(
        `faktory-worker: cannot serve health probes on port ${port} (every interface): the port is taken (EADDRINUSE): ` +
          "stop what listens there, or choose another port\n"
      )
    }).pipe(Effect.scoped), { timeout: 40_000 })

  it.live("--health-host without --health-port is refused", () =>
    Effect.gen(function*() {
      const result = yield* runToEnd(faktoryWorker(["-r", jobs, "--health-host", "127.0.0.1"]))
      expect(result.code).toBe(1)
      expect(result.stderr).toBe("faktory-worker: --health-host needs --health-port: it configures the health probes\n")
    }), { timeout: 40_000 })
})

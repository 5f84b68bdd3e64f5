import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const jobs = fileURLToPath(new URL("./fixtures/jobs.mjs", import.meta.url))

/** Runs `faktory-worker` to its exit (a bad URL ends it at once); resolves with all it printed. */
const runToExit = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<string>((resume) => {
    const base: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("FAKTORY_")) base[key] = value
    }
    const child = spawn(process.execPath, [bin, ...args], { env: { ...base, ...env } })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.on("exit", () => resume(Effect.succeed(output)))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("the faktory-worker binary and a URL it cannot use", () => {
  // A base64 secret often holds "/"; some write one slash after the scheme.
  const cases: Array<[string, ReadonlyArray<string>, Record<string, string>]> = [
    ["--url, a password with a slash", ["-r", jobs, "-u", "tcp://:Zk9pW3/QmRtZw==@localhost:7419"], {}],
    ["FAKTORY_URL, one slash after the scheme", ["-r", jobs], { FAKTORY_URL: "tcp:/:Zk9pW3QmRtZw@localhost:7419" }]
  ]
  for (const [name, args, env] of cases) {
    it.live(`never prints the password (${name})`, () =>
      Effect.gen(function*() {
        const output = yield* runToExit(args, env).pipe(Effect.timeout("20 seconds"))
        // One line, the reason in words (the binary reports a failed start so).
        expect(output).toContain("faktory-worker: invalid Faktory URL")
        expect(output).toContain("<redacted>")
        for (const part of ["Zk9pW3", "QmRtZw"]) expect(output).not.toContain(part)
      }))
  }
})

import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const demo = fileURLToPath(new URL("../dist/demo.js", import.meta.url))

/** The demo's first line, which says whose server it uses; the demo is stopped there. */
const firstLine = (env: Record<string, string>) =>
  Effect.async<string>((resume) => {
    const base: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("FAKTORY_")) base[key] = value
    }
    const child = spawn(process.execPath, [demo], { env: { ...base, ...env } })
    let output = ""
    const done = () => {
      child.kill("SIGKILL")
      resume(Effect.succeed(output.split("\n")[0] ?? ""))
    }
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("\n")) done()
    })
    child.on("exit", done)
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("the demo", () => {
  it.live("uses FAKTORY_URL when FAKTORY_PROVIDER is set but empty, as the client does", () =>
    Effect.gen(function*() {
      const line = yield* firstLine({ FAKTORY_PROVIDER: "", FAKTORY_URL: "tcp://127.0.0.1:1" }).pipe(
        Effect.timeout("20 seconds")
      )
      expect(line).toBe("using the Faktory server in the environment")
    }))
})

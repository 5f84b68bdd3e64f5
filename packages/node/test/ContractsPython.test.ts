import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Schedule } from "effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { faktoryWorker, fixture, runToEnd, waitForOutput } from "./support/binary.js"
import { env } from "./support/server.js"

// The contracts guide's Python producer (docs/contracts.md), run as it is written there: it
// checks jobs against a contract that `faktory-worker contracts` generated, pushes the valid
// one to a real server with a password, refuses the invalid one before any push; our worker
// then runs the job.

const root = fileURLToPath(new URL("../../../", import.meta.url))

/** The first ```python block of the contracts guide (docs/contracts.md). */
const pythonProducer = (): string => {
  const guide = Fs.readFileSync(Path.join(root, "docs", "contracts.md"), "utf8")
  const block = /```python\n([\s\S]*?)\n```/.exec(guide)?.[1]
  if (block === undefined) throw new Error("docs/contracts.md has no ```python block")
  return `${block}\n`
}

/** A Python 3 with jsonschema: scripts/install-python.sh finds or makes one (quick when there). */
const python = (): string => {
  const found = spawnSync("bash", [Path.join(root, "scripts", "install-python.sh"), "--print"], { encoding: "utf8" })
  if (found.status !== 0) throw new Error(`scripts/install-python.sh failed: ${found.stderr}`)
  return found.stdout.trim()
}

const Env = env({ password: "py-secret" })

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("the contracts guide's Python producer", (it) => {
  it.scoped("checks jobs against the generated contract, pushes the valid one, and the worker runs it", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const directory = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "contracts-python-"))),
        (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
      )
      const jobs = fixture("contract-jobs.mjs")
      const generated = yield* runToEnd(faktoryWorker(["contracts", "-r", jobs, "--out", Path.join(directory, "contracts.json")]))
      expect(generated.stderr).toBe("")
      expect(generated.code).toBe(0)
      Fs.writeFileSync(Path.join(directory, "producer.py"), pythonProducer())

      const run = spawnSync(python(), ["producer.py"], {
        cwd: directory,
        encoding: "utf8",
        env: { ...process.env, FAKTORY_URL: server.url },
        timeout: 30_000
      })
      expect(run.stderr).toBe("")
      expect(run.status).toBe(0)
      const [pushed, refused, ...rest] = run.stdout.trim().split("\n")
      expect(pushed).toMatch(/^pushed [0-9a-f]{24}$/)
      expect(refused).toBe("SendEmail would be refused: args/1: 'three' is not of type 'number'")
      expect(rest).toEqual([])
      // Only the valid job reached the server.
      expect((yield* client.info).faktory.queues.mail).toBe(1)

      const worker = yield* faktoryWorker(["-r", jobs, "-q", "mail", "-u", server.url])
      yield* waitForOutput(worker, "mailing a@example.com (attempt 3)")
      // The ACK follows the handler's log line.
      const info = yield* client.info.pipe(
        Effect.filterOrFail((info) => info.faktory.total_processed >= 1),
        Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("10 seconds"))),
        Effect.orElse(() => client.info)
      )
      expect(info.faktory.total_processed).toBe(1)
      expect(info.faktory.total_failures).toBe(0)
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
    }))
})

import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { faktoryWorker, fixture, runToEnd, waitForOutput } from "./support/binary.js"
import { Env, failureOf } from "./support/server.js"

// `faktory-worker contracts`: the loaded modules' jobs as JSON Schema or AsyncAPI, printed or
// written whole to a file; bad input said in one line, exit 1, nothing written; `--check`
// says which jobs of a file the worker would refuse, in the words of the worker's own FAIL.

const contracts = (args: ReadonlyArray<string>, stdin?: string) =>
  runToEnd(
    Effect.tap(faktoryWorker(["contracts", ...args]), (running) =>
      Effect.sync(() => {
        running.child.stdin?.end(stdin ?? "")
      }))
  )

const temporaryDirectory = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "contracts-"))),
  (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
)

const parsed = (text: string): Record<string, unknown> => {
  const value: unknown = JSON.parse(text)
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${text}`)
  return { ...value }
}

const jobs = fixture("contract-jobs.mjs")

const faktoryWorkerHelp = Effect.map(runToEnd(faktoryWorker(["--help"])), (result) => result.stdout)

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("faktory-worker contracts", (it) => {
  it.effect("prints one JSON Schema for the loaded handlers' jobtypes, without a server", () =>
    Effect.gen(function*() {
      const result = yield* contracts(["-r", jobs])
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      const document = parsed(result.stdout)
      expect(document.$schema).toBe("https://json-schema.org/draft/2020-12/schema")
      expect(document.properties).toEqual({ jobtype: { enum: ["SendEmail", "ResizeImage"] } })
      const draft07 = yield* contracts(["-r", jobs, "--draft", "07"])
      expect(parsed(draft07.stdout).$schema).toBe("http://json-schema.org/draft-07/schema#")
    }))

  it.scoped("--format asyncapi --out FILE writes the document whole, replacing what was there, leaving nothing else", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      const out = Path.join(directory, "jobs.asyncapi.json")
      Fs.writeFileSync(out, "old")
      const result = yield* contracts(["-r", jobs, "--format", "asyncapi", "--out", out])
      expect(result.code).toBe(0)
      expect(result.stdout).toBe("")
      const document = parsed(Fs.readFileSync(out, "utf8"))
      expect(document.asyncapi).toBe("3.0.0")
      expect(Object.keys(document.channels ?? {})).toEqual(["mail", "default"])
      expect(Fs.readdirSync(directory)).toEqual(["jobs.asyncapi.json"])
      const unwritable = yield* contracts(["-r", jobs, "--out", Path.join(directory, "missing", "x.json")])
      expect(unwritable.code).toBe(1)
      expect(unwritable.stderr).toMatch(/^faktory-worker: --out \S+x\.json: cannot write it: ENOENT/)
    }))

  it.scoped("bad input: no handlers, a jobtype defined twice differently, a Schema it cannot say: one line, exit 1, nothing written", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      const out = Path.join(directory, "contracts.json")
      Fs.writeFileSync(out, "kept")
      const refused = (args: ReadonlyArray<string>) =>
        Effect.map(contracts([...args, "--out", out]), (result) => {
          expect(result.code).toBe(1)
          expect(result.stdout).toBe("")
          expect(Fs.readFileSync(out, "utf8")).toBe("kept")
          expect(Fs.readdirSync(directory)).toEqual(["contracts.json"])
          const lines = result.stderr.trim().split("\n")
          expect(lines).toHaveLength(1)
          return lines[0]
        })
      expect(yield* refused(["-r", fixture("no-handlers.mjs")])).toBe(
        "faktory-worker: the loaded modules register no handler: export the layers that Job.define(…).handle(…) returns"
      )
      expect(yield* refused(["-r", jobs, "-r", fixture("contract-twice.mjs")])).toMatch(
        /^faktory-worker: SendEmail: it is defined twice with different argument Schemas \(handle called at \S*contract-jobs\.mjs:\d+:\d+ and at \S*contract-twice\.mjs:\d+:\d+\): define each jobtype once, and share the definition$/
      )
      expect(yield* refused(["-r", fixture("contract-lossy.mjs")])).toBe(
        "faktory-worker: Charge: its contract would be weaker than the worker at args[0].email: a filter with no JSON Schema " +
          "counterpart ({ string | filter }) (it has no jsonSchema annotation): annotate each with a jsonSchema annotation " +
          `that says its type, or accept the loss with Job.define("Charge", { …, contract: { weaker: "why" } })`
      )
      expect(yield* refused(["-r", jobs, "--format", "yaml"])).toBe(`faktory-worker: --format "yaml": expected jsonschema or asyncapi`)
      expect(yield* refused(["-r", jobs, "--check", "-"])).toBe(
        "faktory-worker: --check reads jobs and says what the worker makes of them: it takes no --format, --draft or --out " +
          "(see faktory-worker contracts --help)"
      )
    }))

  it.effect("--check: which jobs the worker would refuse and why, line by line; exit 1 if any", () =>
    Effect.gen(function*() {
      const lines = [
        JSON.stringify({ jid: "0123456789ab", jobtype: "SendEmail", args: ["a@example.com", 3], queue: "mail" }),
        "",
        JSON.stringify({ jid: "0123456789ac", jobtype: "SendEmail", args: ["a@example.com", "three"] }),
        JSON.stringify({ jid: "0123456789ad", jobtype: "Mystery", args: [] }),
        JSON.stringify({ jid: "short", jobtype: "SendEmail", args: ["a@example.com", 3] }),
        "{not json",
        JSON.stringify({ jid: "0123456789ae", jobtype: "ResizeImage", args: [{ file: "a.jpg", width: 9000 }] })
      ]
      const result = yield* contracts(["-r", jobs, "--check", "-"], lines.join("\n"))
      expect(result.code).toBe(1)
      expect(result.stdout.trim().split("\n")).toEqual([
        `line 3: InvalidArguments: invalid arguments for SendEmail: 1: Expected number, actual "three"`,
        "line 4: UnknownJobType: no handler for jobtype Mystery",
        "line 5: RefusedByServer: jobs must have a reasonable jid parameter",
        expect.stringMatching(/^line 6: not JSON: /),
        "line 7: InvalidArguments: invalid arguments for ResizeImage: 0.width: Expected a number between 16 and 4096, actual 9000",
        "checked 6 jobs: 1 would run, 5 would be refused"
      ])
      expect(result.stderr).toBe("faktory-worker: 5 of 6 jobs would be refused\n")
      const fine = yield* contracts(["-r", jobs, "--check", "-"], `${lines[0]}\n`)
      expect(fine.code).toBe(0)
      expect(fine.stdout).toBe("checked 1 job: 1 would run, 0 would be refused\n")
      const empty = yield* contracts(["-r", jobs, "--check", "-"], "\n\n")
      expect(empty.code).toBe(1)
      expect(empty.stderr).toBe("faktory-worker: --check -: it holds no job (one JSON object a line)\n")
    }))

  it.scoped("--definitions MODULE reads its exported job definitions and builds no layer; --check too", () =>
    Effect.gen(function*() {
      const definitions = fixture("contract-definitions.mjs")
      const result = yield* contracts(["--definitions", definitions])
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      const fromHandlers = yield* contracts(["-r", jobs])
      // The same contracts; in the order of the module's exports, as handlers come in theirs.
      const byJobtype = (text: string): Record<string, unknown> => {
        const { allOf } = parsed(text)
        const parts: ReadonlyArray<unknown> = Array.isArray(allOf) ? allOf : []
        return Object.fromEntries(
          parts.map((part) => [JSON.stringify(Reflect.get(Object(part), "if")), Reflect.get(Object(part), "then")])
        )
      }
      expect(byJobtype(result.stdout)).toEqual(byJobtype(fromHandlers.stdout))
      expect(Object.keys(byJobtype(result.stdout))).toHaveLength(2)
      const line = JSON.stringify({ jid: "0123456789ac", jobtype: "SendEmail", args: ["a@example.com", "three"] })
      const checked = yield* contracts(["--definitions", definitions, "--check", "-"], line)
      expect(checked.code).toBe(1)
      expect(checked.stdout.split("\n")[0]).toBe(
        `line 1: InvalidArguments: invalid arguments for SendEmail: 1: Expected number, actual "three"`
      )
      const none = yield* contracts(["--definitions", fixture("no-handlers.mjs")])
      expect(none.code).toBe(1)
      expect(none.stderr).toMatch(/^faktory-worker: --definitions \S*no-handlers\.mjs: it exports no job definition \(Job\.define\(…\)\)\n$/)
      const both = yield* contracts(["--definitions", definitions, "-r", jobs])
      expect(both.code).toBe(1)
      expect(both.stderr).toContain("either -r/--require (handler layers, built) or --definitions (job definitions, no layer built)")
    }))

  it.scoped("--out naming a directory is refused, saying so; a write that fails names the file, not a temporary one", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      for (const out of [`${directory}${Path.sep}`, directory, `${Path.join(directory, "sub")}/`]) {
        const result = yield* contracts(["-r", jobs, "--out", out])
        expect(result.code).toBe(1)
        expect(result.stderr).toBe(`faktory-worker: --out ${out}: it names a directory: name the file to write\n`)
      }
      expect(Fs.readdirSync(directory)).toEqual([])
      const missing = Path.join(directory, "missing", "x.json")
      const unwritable = yield* contracts(["-r", jobs, "--out", missing])
      expect(unwritable.code).toBe(1)
      expect(unwritable.stderr).toContain(missing)
      expect(unwritable.stderr).not.toContain(".tmp")
    }))

  it.effect("several jobtypes without a contract: each is named, in one line", () =>
    Effect.gen(function*() {
      const result = yield* contracts(["--definitions", fixture("contract-lossy-many.mjs")])
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/^faktory-worker: 2 jobtypes have no contract: Charge: .*; Remind: .*\n$/)
    }))

  it.effect("--check: a very long jobtype is cut short; a number beyond a 64-bit float is refused as the server would", () =>
    Effect.gen(function*() {
      const long = "J".repeat(5000)
      const lines = [
        JSON.stringify({ jid: "0123456789ad", jobtype: long, args: [] }),
        `{"jid":"0123456789ae","jobtype":"SendEmail","args":["a@example.com",1e400]}`
      ]
      const result = yield* contracts(["-r", jobs, "--check", "-"], lines.join("\n"))
      expect(result.code).toBe(1)
      const [first, second] = result.stdout.split("\n")
      expect(first).toBe(`line 1: UnknownJobType: no handler for jobtype ${"J".repeat(99)}…`)
      expect(second).toBe("line 2: RefusedByServer: args[1] is a number beyond the range of a 64-bit float (the server cannot decode the job)")
    }))

  it.effect("--help names --definitions and says that --check of no job exits 1; the worker's usage shows --draft", () =>
    Effect.gen(function*() {
      const help = yield* contracts(["--help"])
      expect(help.stdout).toContain("--definitions <module>")
      expect(help.stdout).toContain("holds no job")
      const usage = yield* faktoryWorkerHelp
      expect(usage).toContain("[--draft 2020-12|07]")
      expect(usage).toContain("--definitions <module>")
    }))

  it.effect("--check says what the worker's FAIL says for the same job", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const client = yield* Client.Client
      const job = { jid: "check-and-fail-1", jobtype: "SendEmail", args: ["a@example.com", "three"], queue: "mail" }
      const checked = yield* contracts(["-r", jobs, "--check", "-"], JSON.stringify(job))
      yield* client.push(job)
      const worker = yield* faktoryWorker(["-r", jobs, "-q", "mail", "-u", server.url])
      yield* waitForOutput(worker, "InvalidArguments")
      worker.child.kill("SIGTERM")
      yield* worker.exit
      const failure = yield* failureOf(job.jid, "mail")
      expect(failure?.errtype).toBe("InvalidArguments")
      expect(checked.stdout.split("\n")[0]).toBe(`line 1: InvalidArguments: ${failure?.message}`)
    }).pipe(Effect.scoped))
})

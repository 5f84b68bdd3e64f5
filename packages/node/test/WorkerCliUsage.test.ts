import { describe, expect, it, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import * as Path from "node:path"
import { bin, fixture, node, type Running, waitForOutput } from "./support/binary.js"
import { Env } from "./support/server.js"

// What a person (or a log collector) sees from the faktory-worker binary and from
// NodeWorker.runMain: the help, usage errors, and the two log formats.

const jobs = fixture("jobs.mjs")
const runMain = fixture("run-main.mjs")

/**
 * Runs a Node script with NO_COLOR unset and FORCE_COLOR=1: colour is forced on where it may
 * be, and only a terminal may turn it on, which pipes are not.
 */
const spawnNode = (script: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  node(script, args, { NO_COLOR: undefined, FORCE_COLOR: "1", ...env })

const ESC = "\u001b"

describe("faktory-worker --help and usage errors", () => {
  it.scoped("--help describes every flag with its default, marks -r required, with no filler and no colour", () =>
    Effect.gen(function*() {
      const help = yield* spawnNode(bin, ["--help"])
      expect((yield* help.exit).code).toBe(0)
      const text = help.output()
      for (const flag of ["--require", "--queue", "--concurrency", "--timeout", "--label", "--url", "--log-format", "--verbose"]) {
        expect(text).toContain(flag)
      }
      expect(text).toMatch(/-r, --require <module> +.*required/)
      expect(text).toMatch(/--concurrency <jobs> +most jobs running at once, 1 to 1000 \(each holds a connection\)\s+\(default: 20\)/)
      expect(text).toMatch(/--timeout <seconds>[^]*\(default: 25\)/)
      expect(text).toMatch(/--queue[^]*\(default: default\)/)
      expect(text).toMatch(/--log-format[^]*FAKTORY_LOG_FORMAT, else pretty/)
      expect(text).not.toContain("A user-defined piece of text")
      expect(text).not.toContain("This setting is optional")
      expect(text).not.toContain("--wizard")
      expect(text).not.toContain(ESC)
    }))

  for (
    const [args, reason] of [
      [["-r", jobs, "-c", "abc"], `--concurrency "abc": expected a whole number from 1 to 1000`],
      [["-r", jobs, "-c", "0"], `--concurrency "0": expected a whole number from 1 to 1000`],
      // 100,000 processors ran the process out of memory opening their connections.
      [["-r", jobs, "-c", "100000"], `--concurrency "100000": expected a whole number from 1 to 1000`],
      [["-r", jobs, "-t", "soon"], `--timeout "soon": expected a whole number of at least 0`],
      // -5 is a whole number; what is wrong with it is its sign.
      [["-r", jobs, "-t", "-5"], `--timeout "-5": expected a whole number of at least 0`],
      [["-r", jobs, "--bogus"], `unknown argument "--bogus"`],
      [["-r", jobs, "-c"], "-c needs a value"],
      [["-r"], "-r needs a value"],
      // A repeated flag given last without a value was dropped, and the worker started.
      [["-r", jobs, "-q"], "-q needs a value"],
      [["-r", jobs, "-q", ""], "-q needs a value"],
      // --flag=value is the same as --flag value (it was an "unknown argument").
      [[`--require=${jobs}`, "--concurrency=abc"], `--concurrency "abc": expected a whole number from 1 to 1000`],
      [["-r", jobs, "-q", "mail", "-q", "mail"], `--queue "mail" is given twice`],
      // A flag that takes one value, given twice, was said to need a value.
      [["-r", jobs, "-u", "tcp://a", "-u", "tcp://b"], "-u is given more than once"],
      [["-r", jobs, "--concurrency", "1", "-c", "2"], "-c is given more than once"],
      [["-r", jobs, "--log-format", "xml"], `--log-format "xml": expected json or pretty`],
      [["-r", jobs, "-q", "a b"], `--queue "a b": expected name or name,weight`],
      [[], "name at least one module of handlers with -r/--require"]
    ] as const
  ) {
    it.scoped(`${args.filter((arg) => arg !== jobs).join(" ") || "(no flags)"}: one line on stderr, exit 1`, () =>
      Effect.gen(function*() {
        const run = yield* spawnNode(bin, args)
        expect((yield* run.exit).code).toBe(1)
        const lines = run.output().split("\n").filter((line) => line.trim() !== "")
        expect(lines).toEqual([expect.stringContaining(reason)])
        expect(lines[0]).toMatch(/^faktory-worker: /)
        expect(run.output()).not.toContain(ESC)
      }))
  }

  it.scoped("a bad FAKTORY_LOG_FORMAT is a usage error too", () =>
    Effect.gen(function*() {
      const run = yield* spawnNode(bin, ["-r", jobs], { FAKTORY_LOG_FORMAT: "xml" })
      expect((yield* run.exit).code).toBe(1)
      expect(run.output().trim()).toBe(`faktory-worker: FAKTORY_LOG_FORMAT "xml": expected json or pretty`)
    }))
})

/** Every line of standard output, each of which must be a JSON object. */
const jsonLines = (running: Running): Array<Record<string, unknown>> =>
  running.stdout().split("\n").filter((line) => line !== "").map((line) => {
    const parsed: unknown = JSON.parse(line)
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`not an object: ${line}`)
    return Object.fromEntries(Object.entries(parsed))
  })

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("log formats", (it) => {
  for (const [name, args, env] of [
    ["--log-format json", ["--log-format", "json"], {}],
    ["FAKTORY_LOG_FORMAT=json", [], { FAKTORY_LOG_FORMAT: "json" }]
  ] as const) {
    it.scoped(`faktory-worker ${name}: one JSON object a line, job lines annotated, nothing printed twice`, () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const worker = yield* spawnNode(bin, ["-r", jobs, "-q", "json-logs", "-t", "1", "-u", server.url, ...args], env)
        yield* waitForOutput(worker, "started")
        const jid = yield* Effect.flatMap(Client.Client, (client) =>
          client.push({ jobtype: "Echo", queue: "json-logs", args: ["in json"] }))
        yield* waitForOutput(worker, "echo in json")
        worker.child.kill("SIGTERM")
        expect((yield* worker.exit).code).toBe(0)
        const lines = jsonLines(worker)
        const echo = lines.filter((line) => line.message === "echo in json")
        expect(echo).toEqual([expect.objectContaining({ logLevel: "INFO", annotations: { jid, jobtype: "Echo" } })])
        expect(lines.filter((line) => String(line.message).includes("started"))).toHaveLength(1)
        expect(lines.some((line) => String(line.message).startsWith("stopped"))).toBe(true)
      }))
  }

  it.scoped("-r takes a path as people type it, without ./", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const typed = Path.relative(process.cwd(), jobs)
      expect(typed.startsWith(".")).toBe(false)
      const worker = yield* spawnNode(bin, ["-r", typed, "-q", "bare-path", "-t", "1", "-u", server.url])
      yield* waitForOutput(worker, "started")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
    }))

  it.scoped("faktory-worker, pretty into a pipe: no colour codes", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* spawnNode(bin, ["-r", jobs, "-q", "pretty-logs", "-t", "1", "-u", server.url])
      yield* waitForOutput(worker, "started")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
      expect(worker.output()).toMatch(/INFO .*started/)
      expect(worker.output()).not.toContain(ESC)
    }))

  for (const [name, args, env] of [
    ["{ logFormat: \"json\" }", ["json"], {}],
    ["FAKTORY_LOG_FORMAT=json", ["env"], { FAKTORY_LOG_FORMAT: "json" }]
  ] as const) {
    it.scoped(`NodeWorker.runMain with ${name}: every line JSON, none printed twice`, () =>
      Effect.gen(function*() {
        const server = yield* FaktoryServer.FaktoryServer
        const worker = yield* spawnNode(runMain, args, { ...env, FAKTORY_URL: server.url })
        yield* waitForOutput(worker, "started")
        worker.child.kill("SIGTERM")
        expect((yield* worker.exit).code).toBe(0)
        const lines = jsonLines(worker)
        expect(lines.filter((line) => String(line.message).includes("started"))).toHaveLength(1)
        expect(lines.some((line) => String(line.message).startsWith("stopped"))).toBe(true)
      }))
  }

  it.scoped("NodeWorker.runMain reports a failure to start in the chosen format, and exits non-zero", () =>
    Effect.gen(function*() {
      const worker = yield* spawnNode(runMain, ["json"], { FAKTORY_URL: "tcp://:x@127.0.0.1:1/extra/path" })
      const exit = yield* worker.exit.pipe(Effect.timeout("20 seconds"))
      expect(exit.code).not.toBe(0)
      const lines = jsonLines(worker)
      // One record as the binary writes it: the error's message, its tag annotated.
      expect(lines).toEqual([
        expect.objectContaining({
          logLevel: "ERROR",
          message: expect.stringContaining("invalid Faktory URL"),
          annotations: expect.objectContaining({ error: "InvalidUrlError" })
        })
      ])
    }))

  it.scoped("NodeWorker.runMain, pretty: a failure to start is one record, its message and tag, not a stack", () =>
    Effect.gen(function*() {
      const worker = yield* spawnNode(runMain, ["pretty"], { FAKTORY_URL: "tcp://:x@127.0.0.1:1/extra/path" })
      const exit = yield* worker.exit.pipe(Effect.timeout("20 seconds"))
      expect(exit.code).not.toBe(0)
      const lines = worker.output().trim().split("\n")
      expect(lines, worker.output()).toEqual([expect.stringContaining("ERROR (#1): invalid Faktory URL"), "  error: InvalidUrlError"])
    }))
})

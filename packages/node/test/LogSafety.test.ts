import { expect, layer } from "@effect/vitest"
import { Client, Protocol } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import { faktoryWorker, fixture, node, waitForOutput } from "./support/binary.js"
import { Env } from "./support/server.js"

// What another producer's job can put into the worker's log lines: a jid or jobtype with a
// line break that would start a forged record, a terminal escape, a C1 control or a Unicode
// line separator. In every format the worker writes, a record stays one line (or, in pretty,
// a first line and indented continuations) and no byte from a job reaches the output raw.

const jobs = fixture("jobs.mjs")
const hostile = fixture("hostile.mjs")
const runMain = fixture("run-main.mjs")
const asIfTerminal = fixture("as-if-terminal.mjs")

const FORGED = "[17:00:00.000] INFO (#1): forged line"
/** Every control character a job could carry into a line, \n excepted (the records' own separator). */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/
/** A pretty record's first line: its time, level and fiber. */
const RECORD = /^\[\d\d:\d\d:\d\d\.\d{3}\] (DEBUG|INFO|WARN|ERROR) \(#\d+\)/

/** A job pushed as another producer may push it: none of our client's checks on the way. */
const rawPush = (job: { readonly jid: string; readonly jobtype: string; readonly queue: string; readonly args: ReadonlyArray<unknown> }) =>
  Effect.flatMap(Client.Client, (client) => client.send(Protocol.push({ ...job, retry: 0, created_at: new Date().toISOString() })))

/** The forged jobtype and jid of the new user's report, and a jobtype with a colour escape. */
const pushForgeries = (queue: string) =>
  Effect.gen(function*() {
    yield* rawPush({ jid: "evil-jid-0001", jobtype: `Nope\n${FORGED}`, queue, args: [1] })
    yield* rawPush({ jid: "evil-jid-0002\nstopped: 9999 acked", jobtype: "Bad\u001b[31mType", queue, args: [1] })
  })

/** Each line of pretty output is a record's first line or an indented continuation of it. */
const expectPrettyLines = (output: string) => {
  expect(output).not.toMatch(RAW_CONTROL)
  const stray = output.split("\n").filter((line) => line !== "" && !RECORD.test(line) && !line.startsWith("  "))
  expect(stray).toEqual([])
  // What the forgeries would have been, had their line breaks been written.
  expect(output).toContain(`WARN (#`)
  expect(output).toContain(`: job failed: UnknownJobType: no handler for jobtype Nope\\n${FORGED}\n`)
  expect(output).toContain("  jid: evil-jid-0002\\nstopped: 9999 acked\n")
  expect(output).toContain("no handler for jobtype Bad\\u001b[31mType\n")
}

layer(Env, { excludeTestServices: true, timeout: "120 seconds" })("what a job can put into the worker's logs", (it) => {
  it.scoped("faktory-worker, pretty (-v): line breaks, escapes and separators from jobs are shown escaped; a cause's lines are indented", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const queue = "pretty-hostile"
      const worker = yield* faktoryWorker(["-r", jobs, "-r", hostile, "-q", queue, "-t", "1", "-v", "-u", server.url])
      yield* waitForOutput(worker, "started")
      yield* pushForgeries(queue)
      yield* rawPush({ jid: "evil-jid-0003", jobtype: "Say", queue, args: ["a\nb\r\u001b[2Kc\u2028d\u0085e\u007f\u009bf\tg"] })
      yield* rawPush({ jid: "evil-jid-0004", jobtype: "FailWith", queue, args: [`boom\n${FORGED}\u001b[31m`] })
      yield* waitForOutput(worker, "job failed: Error: boom")
      yield* waitForOutput(worker, "no handler for jobtype Bad")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
      const output = worker.output()
      expectPrettyLines(output)
      expect(output).toContain(": said a\\nb\\r\\u001b[2Kc\\u2028d\\u0085e\\u007f\\u009bf\\tg\n")
      // The WARN line holds the whole message on one line; the DEBUG cause breaks it where the
      // message broke, and the rest of the message is a continuation, indented.
      expect(output).toContain(`: job failed: Error: boom\\n${FORGED}\\u001b[31m\n`)
      expect(output).toMatch(/DEBUG \(#\d+\): Error: boom\n {2}\[17:00:00\.000\] INFO \(#1\): forged line\\u001b\[31m\n {6}at /)
    }))

  it.scoped("NodeWorker.runMain, pretty: the same", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* node(runMain, ["pretty"], { FAKTORY_URL: server.url })
      yield* waitForOutput(worker, "started")
      yield* pushForgeries("run-main")
      yield* rawPush({ jid: "evil-jid-0005", jobtype: "Echo", queue: "run-main", args: [`hi\r${FORGED}\u001b]0;title\u0007`] })
      yield* waitForOutput(worker, "no handler for jobtype Bad")
      yield* waitForOutput(worker, "echo hi")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
      expectPrettyLines(worker.output())
      expect(worker.output()).toContain(`: echo hi\\r${FORGED}\\u001b]0;title\\u0007\n`)
    }))

  it.scoped("faktory-worker --log-format json: one object a line, C1, DEL and U+2028 escaped too, the values unchanged", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const queue = "json-hostile"
      const worker = yield* faktoryWorker(["-r", jobs, "-r", hostile, "-q", queue, "-t", "1", "--log-format", "json", "-u", server.url])
      yield* waitForOutput(worker, "started")
      const text = "a\nb\u2028c\u2029d\u0085e\u009b31mf\u007fg\u001b[31mh"
      const jid = "evil-jid-0006\u2028x"
      yield* rawPush({ jid, jobtype: "Say", queue, args: [text] })
      yield* waitForOutput(worker, "said")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
      expect(worker.output()).not.toMatch(RAW_CONTROL)
      const records = worker.output().split("\n").filter((line) => line !== "").map((line): unknown => JSON.parse(line))
      expect(records).toContainEqual(expect.objectContaining({ message: `said ${text}`, annotations: { jid, jobtype: "Say" } }))
    }))

  it.scoped("faktory-worker: an uncaught exception with a job's text in it is logged and said on stderr escaped", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const queue = "throw-hostile"
      const worker = yield* faktoryWorker(["-r", jobs, "-r", hostile, "-q", queue, "-t", "1", "-u", server.url])
      yield* waitForOutput(worker, "started")
      yield* rawPush({ jid: "evil-jid-0007", jobtype: "ThrowLater", queue, args: [`late\u001b[2J\n${FORGED}`] })
      const exit = yield* worker.exit.pipe(Effect.timeout("20 seconds"))
      expect(exit.code).not.toBe(0)
      const output = worker.output()
      expect(output).not.toMatch(RAW_CONTROL)
      // Said in one line, its first, as every reason is.
      expect(output).toContain("faktory-worker: terminated after an uncaught exception: Error: late\\u001b[2J\n")
      // The ERROR record's cause: the message's second line is a continuation, not a record.
      expect(output).toMatch(/ERROR \(#\d+\): an uncaught exception; terminating\n {2}Error: late\\u001b\[2J\n {2}\[17:00:00\.000\] INFO/)
      const stray = output.split("\n").filter((line) =>
        line !== "" && !RECORD.test(line) && !line.startsWith("  ") && !line.startsWith("faktory-worker: ")
      )
      expect(stray).toEqual([])
    }))

  it.scoped("faktory-worker, pretty on a terminal: our colours stay; a job's escapes are shown, not sent", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const queue = "colour-hostile"
      const worker = yield* faktoryWorker(["-r", jobs, "-q", queue, "-t", "1", "-u", server.url], {
        NODE_OPTIONS: `--import=${asIfTerminal}`
      })
      yield* waitForOutput(worker, "started")
      yield* pushForgeries(queue)
      yield* waitForOutput(worker, "no handler for jobtype Bad")
      worker.child.kill("SIGTERM")
      expect((yield* worker.exit).code).toBe(0)
      const output = worker.output()
      // The level in yellow, the message in bold cyan: our escapes.
      expect(output).toContain("\u001b[33mWARN\u001b[0m")
      expect(output).toContain("\u001b[1m\u001b[36mjob failed: UnknownJobType: no handler for jobtype Nope\\n")
      // A job's: shown, not sent; and every line a record (its time in white) or indented.
      expect(output).toContain("jobtype Bad\\u001b[31mType")
      expect(output).not.toContain("Bad\u001b")
      const stray = output.split("\n").filter((line) => line !== "" && !line.startsWith("\u001b[37m[") && !line.startsWith("  "))
      expect(stray).toEqual([])
    }))
})

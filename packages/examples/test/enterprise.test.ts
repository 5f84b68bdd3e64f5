import { describe, expect, it } from "@effect/vitest"
import { FakeFaktory, FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Option } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { enterprisePeer } from "../../core/test/enterprisePeer.js"
import { Handlers, Mailer, PHOTOS, workflow } from "../src/album.js"

// The Enterprise example: the workflow in process against both fake modes, and the program
// as users run it, against the fake, against a peer speaking Faktory Enterprise's wire, and
// against an open-source server (which cannot run it: the fake does instead).

/** Handlers with a mailer that keeps what it sent. */
const recording = () => {
  const sent: Array<{ readonly to: string; readonly subject: string }> = []
  const handlers = Handlers.pipe(
    Layer.provide(Layer.succeed(Mailer, { send: (to, subject) => Effect.sync(() => sent.push({ to, subject })) }))
  )
  return { handlers, sent }
}

/** What every run ends with: one email, the batch succeeded, every photo at 100%. */
const expectDone = (outcome: Effect.Effect.Success<ReturnType<typeof workflow>>) => {
  expect(outcome.batch).toMatchObject({ total: PHOTOS.length, pending: 0, failed: 0, success: "succeeded" })
  expect(outcome.photos.map((photo) => [photo.state, photo.percent])).toEqual(
    PHOTOS.map(() => ["success", Option.some(100)])
  )
  expect(outcome.photos.map((photo) => photo.description)).toEqual(PHOTOS.map((file) => Option.some(`${file}: 2048px done`)))
}

describe("the Enterprise example's workflow", () => {
  // `it.live`: each resize waits a few milliseconds, which a TestClock would hold for ever.
  it.live("fake mode: the resizes, then one email once all are done", () => {
    const { handlers, sent } = recording()
    return Effect.gen(function*() {
      const outcome = yield* workflow((bid) =>
        Effect.gen(function*() {
          expect(yield* FakeFaktory.payloads({ queue: "images" })).toHaveLength(PHOTOS.length)
          // Not one email before the resizes ran.
          expect(yield* FakeFaktory.drain({ queue: "images" })).toBe(PHOTOS.length)
          expect(sent).toEqual([])
          expect((yield* FakeFaktory.payloads({ queue: "mail" }))[0]?.custom).toEqual({ _bid: bid })
          expect(yield* FakeFaktory.drain()).toBe(1)
        })
      )
      expectDone(outcome)
      expect(sent).toEqual([{ to: "ada@example.com", subject: "album 7 is ready: 3 photos resized" }])
    }).pipe(Effect.provide(FakeFaktory.layer(handlers)))
  })

  it.live("inline mode: everything has run when the batch is committed", () => {
    const { handlers, sent } = recording()
    return Effect.gen(function*() {
      expectDone(yield* workflow(() => Effect.void))
      expect(sent).toHaveLength(1)
    }).pipe(Effect.provide(FakeFaktory.layerInline(handlers)))
  })
})

const program = fileURLToPath(new URL("../dist/enterprise.js", import.meta.url))

/** Runs the example with `env` (and no other FAKTORY_ variable); its output and exit code. */
const run = (env: Record<string, string>, args: ReadonlyArray<string> = []) =>
  Effect.async<{ readonly output: string; readonly code: number | null }>((resume) => {
    const base: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("FAKTORY_")) base[key] = value
    }
    const child = spawn(process.execPath, [program, ...args], { env: { ...base, ...env } })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.on("exit", (code) => resume(Effect.succeed({ output, code })))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.timeout("60 seconds"))

/** The lines every successful run prints, whichever server ran it. */
const expectRan = (output: string) => {
  expect(output.match(/^mail to /gm)).toEqual(["mail to "])
  expect(output).toContain("mail to ada@example.com: album 7 is ready: 3 photos resized")
  expect(output.match(/^photo .*: success, 100% \(.*: 2048px done\)$/gm)).toHaveLength(PHOTOS.length)
  expect(output).toMatch(/^batch b-\S+: 3 jobs, 0 pending, 0 failed; success callback succeeded$/m)
}

describe("the Enterprise example as a program", () => {
  it.live("with no FAKTORY_URL, against the fake", () =>
    Effect.gen(function*() {
      const { code, output } = yield* run({})
      expect(output.split("\n")[0]).toBe("using FakeFaktory (set FAKTORY_URL to a Faktory Enterprise server to run against it)")
      expectRan(output)
      expect(code).toBe(0)
    }))

  it.live("with FAKTORY_URL naming an Enterprise server, against it, with a worker of its own", () =>
    Effect.gen(function*() {
      const peer = yield* enterprisePeer()
      const { code, output } = yield* run({ FAKTORY_URL: peer.url })
      expect(output.split("\n")[0]).toBe("using the Faktory Enterprise server in the environment")
      expectRan(output)
      expect(code).toBe(0)
      // The server ran it: the batch, its commit and the tracking went over the wire.
      expect(peer.lines.filter((line) => line.startsWith("BATCH NEW"))).toHaveLength(1)
      expect(peer.lines.filter((line) => line.startsWith("TRACK SET")).length).toBe(PHOTOS.length * 3)
      expect([...peer.batches.values()][0]).toMatchObject({ committed: true, pending: 0, successState: "2" })
    }).pipe(Effect.scoped))

  it.live("with FAKTORY_URL naming an open-source server, against the fake, saying why; and --fake", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.make({ webUi: false })
      const { code, output } = yield* run({ FAKTORY_URL: server.url })
      expect(output.split("\n")[0]).toBe(
        "the server in the environment is open-source Faktory, which has no batches or tracking: using FakeFaktory instead"
      )
      expectRan(output)
      expect(code).toBe(0)

      const forced = yield* run({ FAKTORY_URL: "tcp://127.0.0.1:1" }, ["--fake"])
      expect(forced.output.split("\n")[0]).toContain("using FakeFaktory")
      expect(forced.code).toBe(0)
    }).pipe(Effect.scoped))
})

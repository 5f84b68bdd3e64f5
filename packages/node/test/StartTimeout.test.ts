import { expect, it } from "@effect/vitest"
import { AuthenticationError, Job, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Schema } from "effect"

// Worker's startTimeout: how long start may wait for the server before failing with the
// reason. The default (none) retries for ever; a refusal fails at once either way.

const Noop = Job.define("Noop", { args: Schema.Tuple() })

/** Starts a worker with `options` and returns how its start failed, and after how long (real time). */
const failedStart = (options: Worker.WorkerOptions) =>
  Effect.gen(function*() {
    const started = performance.now()
    const error = yield* Effect.flip(Effect.scoped(Worker.make(options)))
    return { error, millis: performance.now() - started }
  }).pipe(Effect.provide(Layer.merge(Noop.handle(() => Effect.void), NodeTransport.layer)))

it.live("a closed port: StartTimeoutError after the deadline, with the last reason (Refused)", () =>
  Effect.gen(function*() {
    const port = yield* FaktoryServer.freePort
    // The client's pool retries a refused connect for about 1.5 s before one attempt fails.
    const { error, millis } = yield* failedStart({ startTimeout: "4 seconds", client: { url: `tcp://127.0.0.1:${port}` } })
    expect(error._tag).toBe("StartTimeoutError")
    expect(error.message).toMatch(
      new RegExp(`^could not start within 4s: the server at 127\\.0\\.0\\.1:${port} was not reached \\(\\d+ attempts\\); the last: Refused: `)
    )
    expect(millis).toBeGreaterThanOrEqual(3900)
    expect(millis).toBeLessThan(7000)
    console.log(`closed port: failed after ${millis.toFixed(0)} ms (startTimeout 4 s): ${error.message}`)
  }), { timeout: 20_000 })

it.live("the Web UI's port, short client timeouts: StartTimeoutError with the handshake's reason (the server sent nothing)", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: true })
    const web = new URL(server.webUrl ?? "")
    const { error, millis } = yield* failedStart({
      startTimeout: "3 seconds",
      // Short client timeouts, so that an attempt's own reason is known within the deadline.
      client: { url: `tcp://127.0.0.1:${web.port}`, handshakeTimeout: "500 millis", connectDeadline: "1 second" }
    })
    expect(error._tag).toBe("StartTimeoutError")
    expect(error.message).toContain(`could not start within 3s: the server at 127.0.0.1:${web.port} was not reached`)
    // The Web UI's HTTP server waits for a request: the attempt ends with the handshake timeout.
    expect(error.message).toContain("the handshake did not finish within 500 ms: the server sent nothing")
    console.log(`Web UI port: failed after ${millis.toFixed(0)} ms (startTimeout 3 s): ${error.message}`)
  }).pipe(Effect.scoped), { timeout: 40_000 })

it.live("the Web UI's port, the client's defaults, a deadline shorter than its connect deadline: the attempt had no answer yet", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: true })
    const web = new URL(server.webUrl ?? "")
    const { error } = yield* failedStart({ startTimeout: "1 second", client: { url: `tcp://127.0.0.1:${web.port}` } })
    expect(error._tag).toBe("StartTimeoutError")
    expect(error.message).toContain("the first attempt had no answer yet")
  }).pipe(Effect.scoped), { timeout: 40_000 })

it.live("the Web UI's port, the client's defaults, a 12 s deadline: the reason asks whether this is Faktory's port", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: true })
    const web = new URL(server.webUrl ?? "")
    const { error, millis } = yield* failedStart({ startTimeout: "12 seconds", client: { url: `tcp://127.0.0.1:${web.port}` } })
    expect(error._tag).toBe("StartTimeoutError")
    expect(error.message).toContain("is this Faktory's port (7419, not the Web UI's 7420)?")
    console.log(`Web UI port, defaults: failed after ${millis.toFixed(0)} ms (startTimeout 12 s): ${error.message}`)
  }).pipe(Effect.scoped), { timeout: 40_000 })

it.live("a wrong password fails at once with AuthenticationError, not after the deadline, and names no password", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false, password: "right-secret" })
    const { error, millis } = yield* failedStart({
      startTimeout: "20 seconds",
      client: { url: `tcp://:wrong-secret@127.0.0.1:${server.port}` }
    })
    expect(error).toBeInstanceOf(AuthenticationError)
    expect(millis).toBeLessThan(5000)
    expect(error.message).not.toContain("secret")
  }).pipe(Effect.scoped), { timeout: 40_000 })

// Under @effect/vitest's it.effect the TestClock is in effect: the deadline still passes in real
// time (the worker's timers are on the live clock), with no TestClock.adjust.
it.effect("under the TestClock the deadline passes in real time", () =>
  Effect.gen(function*() {
    const port = yield* FaktoryServer.freePort
    const { error, millis } = yield* failedStart({ startTimeout: "800 millis", client: { url: `tcp://127.0.0.1:${port}` } })
    expect(error._tag).toBe("StartTimeoutError")
    expect(millis).toBeGreaterThanOrEqual(700)
  }), { timeout: 20_000 })

it.effect("a startTimeout that is no duration, negative or 0 is refused; \"infinity\" is the default", () =>
  Effect.gen(function*() {
    for (
      const [input, detail] of [
        [-1, "startTimeout -1 is negative (leave it out to retry for ever)"],
        [0, "startTimeout 0 is not above 0 (leave it out to retry for ever)"],
        ["-5 seconds", `startTimeout "-5 seconds" is negative`]
      ] as const
    ) {
      const { error } = yield* failedStart({ startTimeout: input })
      expect(error._tag).toBe("InvalidArgumentError")
      expect(error.message).toContain(detail)
    }
  }))

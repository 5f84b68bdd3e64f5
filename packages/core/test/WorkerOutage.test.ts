import { expect, it } from "@effect/vitest"
import { Client, Job, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Logger, Schema } from "effect"

// An outage is one WARN and, when the server is back, one INFO, however many processors there
// are. Here the server is SIGKILLed under load, so that most processors hold a job's report when
// their connections break: each retries it through the pool until the server is back, and only
// then goes back to fetching. Such a processor, still failing from the outage after another is
// back, must not begin a second outage (a second WARN and INFO within a second of the first INFO).

const QUEUE = "outage-kill"
const KILLS = 3
const Work = Job.define("Work", { args: Schema.Tuple(Schema.Number), queue: QUEUE })

it.live("a server SIGKILLed and restarted under load: one WARN while it is down and one INFO once it is back, each time", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const started = Date.now()
    const lines: Array<{ readonly at: number; readonly line: string }> = []
    const logger = Logger.make(({ logLevel, message }) => {
      lines.push({ at: Date.now(), line: `${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}` })
    })
    yield* Worker.make({
      queues: [QUEUE],
      concurrency: 10,
      heartbeatInterval: "1 second",
      shutdownTimeout: "1 second",
      client: server.clientOptions
    }).pipe(
      Effect.provide(Layer.merge(Work.handle(() => Effect.sleep("10 millis")), NodeTransport.layer)),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
    // A producer that keeps every processor busy.
    const producer = yield* Client.make({ ...server.clientOptions, poolSize: 2 }).pipe(Effect.provide(NodeTransport.layer))
    let n = 0
    yield* Effect.forkScoped(Effect.forever(
      producer.push({ jobtype: "Work", queue: QUEUE, args: [n++] }).pipe(Effect.ignore, Effect.zipRight(Effect.sleep("1 millis")))
    ))
    const kills: Array<{ readonly killed: number; readonly restarted: number }> = []
    for (let k = 0; k < KILLS; k++) {
      yield* Effect.sleep("1500 millis")
      const killed = Date.now()
      process.kill(server.pid()!, "SIGKILL")
      // Reaps the supervisor and sweeps up the server's Redis; the data directory stays.
      yield* server.stop
      yield* Effect.sleep("1 second")
      // The worker may reconnect before `start` has seen the server greet, so "back" is when
      // the server was launched, not when `start` returned.
      const restarted = Date.now()
      yield* server.start
      kills.push({ killed, restarted })
      // Stragglers came within a second of the first INFO.
      yield* Effect.sleep("3 seconds")
    }
    const outageLines = lines.filter(({ line }) => line.includes("cannot fetch") || line.includes("fetching from"))
    const shown = outageLines.map(({ at, line }) => `${at - started} ms ${line.slice(0, 60)}`).join("\n") +
      `\nkilled and restarted at ${kills.map(({ killed, restarted }) => `${killed - started}–${restarted - started}`).join(", ")} ms`
    expect(outageLines.map(({ line }) => line.slice(0, 20)), shown).toEqual(
      Array.from({ length: KILLS }, () => ["WARN cannot fetch fr", "INFO fetching from 1"]).flat()
    )
    kills.forEach(({ killed, restarted }, k) => {
      // The WARN while the server is down, not once it is back.
      expect(outageLines[2 * k]!.at, shown).toBeGreaterThanOrEqual(killed)
      expect(outageLines[2 * k]!.at, shown).toBeLessThan(restarted)
      expect(outageLines[2 * k + 1]!.at, shown).toBeGreaterThanOrEqual(restarted)
    })
  }).pipe(Effect.scoped), 90_000)

import { describe, expect, it, layer } from "@effect/vitest"
import { Client, Job, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Config, ConfigProvider, Effect, Either, Layer, Schema } from "effect"
import { EnvWithWebUi, waitFor } from "./support.js"

const fromMap = (entries: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(entries)))

const readQueues = (text: string) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(Worker.queuesConfig("QUEUES"), fromMap({ QUEUES: text }))))

describe("Worker.queuesConfig", () => {
  it("reads names in strict order, or names with weights (a queue without one weighs 1)", () => {
    expect(readQueues("critical,default")).toEqual(Either.right(["critical", "default"]))
    expect(readQueues(" critical , default ")).toEqual(Either.right(["critical", "default"]))
    expect(readQueues("critical:3,default")).toEqual(Either.right({ critical: 3, default: 1 }))
    expect(readQueues("a:2,b:10")).toEqual(Either.right({ a: 2, b: 10 }))
  })

  it("refuses what faktory-worker -q refuses: weights that are not whole numbers above 0, bad or repeated names", () => {
    const refusal = (text: string) => {
      const read = readQueues(text)
      return Either.isLeft(read) ? String(read.left) : "accepted"
    }
    for (const weight of ["lots", "0", "-1", "1.5", "0x10", "1e-9", "Infinity", ""]) {
      expect(refusal(`critical:${weight}`), weight).toContain(`the weight after ":" must be a whole number above 0`)
    }
    expect(refusal(":3,default")).toContain(`queue name "" must match`)
    expect(refusal("crit ical")).toContain(`queue name "crit ical" must match`)
    expect(refusal("default:1,default:5")).toContain(`queue "default" is listed twice`)
    expect(refusal(" , ")).toContain("expected queue names")
    // Spaces around the colon, as around the commas, are not part of the name or the weight.
    expect(readQueues(" critical : 3 , default ")).toEqual(Either.right({ critical: 3, default: 1 }))
    // The variable is named in the error.
    expect(refusal("critical:0")).toContain("QUEUES")
  })
})

const Tally = Job.define("Tally", { args: Schema.Tuple(Schema.Number), queue: "config-q" })

layer(EnvWithWebUi, { excludeTestServices: true })("Worker.layerConfig against a real server", (it) => {
  it.effect("takes queues, concurrency, labels and the shutdown timeout from the ConfigProvider", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const seen: Array<number> = []
      const WorkerLive = Worker.layerConfig({
        queues: Worker.queuesConfig("WORKER_QUEUES"),
        concurrency: Config.integer("WORKER_CONCURRENCY"),
        labels: Config.array(Config.string(), "WORKER_LABELS"),
        shutdownTimeout: Config.duration("WORKER_SHUTDOWN"),
        heartbeatInterval: Config.succeed("1 second"),
        client: Config.succeed(server.clientOptions)
      }).pipe(
        Layer.provide(Layer.merge(Tally.handle(([n]) => Effect.sync(() => seen.push(n))), NodeTransport.layer))
      )
      const config = fromMap({
        WORKER_QUEUES: "elsewhere:1,config-q:1",
        WORKER_CONCURRENCY: "3",
        WORKER_LABELS: "billing,eu",
        WORKER_SHUTDOWN: "2 seconds"
      })
      yield* Effect.gen(function*() {
        const worker = yield* Worker.Worker
        const client = yield* Client.Client
        yield* client.pushBulk([1, 2, 3].map((n) => ({ jobtype: "Tally", args: [n], queue: "config-q" })))
        yield* waitFor("the three Tally jobs to run", () => seen.length === 3, 10)
        expect(seen.slice().sort()).toEqual([1, 2, 3])
        expect(worker.processed()).toEqual({ acked: 3, failed: 0 })
        // The Web UI's Busy page lists the worker with the labels it registered.
        const busy = yield* Effect.promise(() => fetch(`${server.webUrl}/busy`).then((response) => response.text()))
        expect(busy).toContain(worker.wid)
        expect(busy).toContain("billing")
      }).pipe(Effect.provide(WorkerLive), Effect.withConfigProvider(config), Effect.scoped)
    }))

  it.effect("checks what the ConfigProvider says with Worker.make's messages", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const start = (entries: Record<string, string>) =>
        Layer.build(
          Worker.layerConfig({
            queues: Worker.queuesConfig("WORKER_QUEUES"),
            concurrency: Config.integer("WORKER_CONCURRENCY"),
            client: Config.succeed(server.clientOptions)
          }).pipe(Layer.provide(NodeTransport.layer))
        ).pipe(Effect.scoped, Effect.withConfigProvider(fromMap(entries)), Effect.flip)
      const zero = yield* start({ WORKER_QUEUES: "a", WORKER_CONCURRENCY: "0" })
      expect(zero.message).toContain("concurrency must be a whole number from 1 to 1000, not 0")
      const unnamed = yield* start({ WORKER_QUEUES: "a:0,b:0", WORKER_CONCURRENCY: "2" })
      expect(String(unnamed)).toContain(`the weight after ":" must be a whole number above 0`)
      const missing = yield* start({ WORKER_QUEUES: "a" })
      expect(missing._tag).toBe("ConfigError")
      expect(String(missing)).toContain("WORKER_CONCURRENCY")
    }))
})

import { expect, it } from "@effect/vitest"
import { Client, Job, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Schema } from "effect"
import { waitFor } from "./support/wait.js"

const Nap = Job.define("Nap", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "restart-q" })

it.scopedLive("the server restarts mid-run: running jobs are ACKed once it is back, and the worker carries on", () =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.make({ webUi: false })
    const client = yield* Client.make(server.clientOptions).pipe(Effect.provide(NodeTransport.layer))
    const started: Array<string> = []
    const finished: Array<string> = []
    const worker = yield* Worker.make({
      queues: ["restart-q"],
      concurrency: 2,
      heartbeatInterval: "1 second",
      client: server.clientOptions
    }).pipe(
      Effect.provide(Layer.merge(
        Nap.handle(([name, millis]) =>
          Effect.sync(() => started.push(name)).pipe(
            Effect.zipRight(Effect.sleep(millis)),
            Effect.zipRight(Effect.sync(() => finished.push(name)))
          )
        ),
        NodeTransport.layer
      ))
    )
    yield* client.push({ jobtype: "Nap", queue: "restart-q", args: ["during", 3000] })
    yield* waitFor("the long job to start", () => started.includes("during"), 30)

    yield* server.stop
    yield* Effect.sleep("1 second")
    yield* server.start

    yield* waitFor("the long job to finish and be ACKed", () => finished.includes("during") && worker.processed().acked === 1, 30)
    yield* client.push({ jobtype: "Nap", queue: "restart-q", args: ["after", 0] })
    yield* waitFor("a job pushed after the restart", () => finished.includes("after") && worker.processed().acked === 2, 30)

    // The ACK reached the server: nothing is reserved, retried or run twice.
    const info = yield* client.info
    expect(info.faktory.sets).toMatchObject({ retries: 0, working: 0, dead: 0 })
    expect(started.filter((name) => name === "during")).toHaveLength(1)
  }), { timeout: 90_000 })

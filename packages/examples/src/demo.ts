/**
 * The README's demo: a producer pushes typed jobs and a worker processes them, against the
 * server in FAKTORY_URL when set, else a throwaway local one started here.
 */
import { Client, Worker } from "@effect-faktory/core"
import { NodeClient, NodeWorker } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Console, Effect, Layer, Schedule } from "effect"
import { Handlers, ResizeImage, SendEmail } from "./jobs.js"

const produce = Effect.gen(function*() {
  const jid = yield* SendEmail.push(["ada@example.com", "welcome"])
  yield* Console.log(`pushed SendEmail ${jid}`)
  const bulk = yield* ResizeImage.pushBulk([640, 1280, 1920].map((width) => ({ file: "photo.jpg", width })))
  yield* Console.log(`pushed ${bulk.pushed.length} ResizeImage jobs with one PUSHB`)
  // Bad values never leave the process: the Schema refuses them first.
  const refused = yield* Effect.flip(ResizeImage.push({ file: "huge.jpg", width: 100_000 }))
  yield* Console.log(`refused before sending: ${refused.message}`)
})

const demo = (clientOptions: Client.ClientOptions) =>
  Effect.gen(function*() {
    const worker = yield* Worker.Worker
    yield* produce
    yield* Effect.suspend(() => (worker.processed().acked >= 4 ? Effect.void : Effect.fail("waiting"))).pipe(
      Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("30 seconds")))
    )
    const info = yield* Effect.flatMap(Client.Client, (client) => client.info)
    yield* Console.log(
      `worker ${worker.wid} processed ${worker.processed().acked} jobs; ` +
        `the server (Faktory ${info.server.faktory_version}) counts ${info.faktory.total_processed}`
    )
    yield* worker.terminate
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        NodeWorker.layer({ queues: ["critical", "default"], concurrency: 4, client: clientOptions }).pipe(
          Layer.provide(Layer.mergeAll(...Handlers))
        ),
        NodeClient.layer(clientOptions)
      )
    )
  )

const main = Effect.gen(function*() {
  // FAKTORY_PROVIDER set but empty counts as unset, as in the client.
  const configured = process.env[process.env.FAKTORY_PROVIDER || "FAKTORY_URL"]
  if (configured !== undefined && configured !== "") {
    yield* Console.log("using the Faktory server in the environment")
    return yield* demo({})
  }
  const server = yield* FaktoryServer.make()
  yield* Console.log(`started a local Faktory at ${server.url} (Web UI ${server.webUrl ?? "off"})`)
  yield* demo(server.clientOptions)
}).pipe(Effect.scoped)

Effect.runPromise(main).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

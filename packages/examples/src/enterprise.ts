/**
 * The Faktory Enterprise workflow of `album.ts` (a batch of image resizes whose success
 * callback sends one email, progress tracked), run end to end:
 *
 * - `node packages/examples/dist/enterprise.js` (or `npm run enterprise -w @effect-faktory/examples`)
 *   runs it against `FakeFaktory`, no server needed;
 * - with `FAKTORY_URL` naming a Faktory Enterprise server (`client.isEnterprise`), against it,
 *   with a worker in this process; an open-source server cannot run it, so the fake runs it
 *   instead, saying so;
 * - `--fake` runs it against the fake whatever `FAKTORY_URL` says.
 */
import { Batch, Client, Worker } from "@effect-faktory/core"
import { NodeClient, NodeWorker } from "@effect-faktory/node"
import { FakeFaktory } from "@effect-faktory/testing"
import { Console, Effect, Layer, Schedule } from "effect"
import { Handlers, MailerLive, workflow } from "./album.js"

const AppHandlers = Handlers.pipe(Layer.provide(MailerLive))

/** Against the fake: the jobs run when drained, the callback among them. */
const onFake = workflow(() => Effect.asVoid(FakeFaktory.drain())).pipe(
  Effect.provide(FakeFaktory.layer(AppHandlers))
)

/** Against a real server: a worker in this process runs the jobs; done once the callback succeeded. */
const onServer = Effect.gen(function*() {
  const worker = yield* Worker.Worker
  const outcome = yield* workflow((bid) =>
    Batch.status(bid).pipe(
      Effect.filterOrFail((status) => status.success === "succeeded", () => "waiting for the success callback"),
      Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("60 seconds")))
    )
  )
  yield* worker.terminate
  return outcome
}).pipe(
  Effect.provide(
    Layer.mergeAll(
      NodeWorker.layer({ queues: ["images", "mail"], concurrency: 4 }).pipe(Layer.provide(AppHandlers)),
      NodeClient.layer()
    )
  )
)

const main = Effect.gen(function*() {
  // FAKTORY_PROVIDER set but empty counts as unset, as in the client.
  const configured = process.env[process.env.FAKTORY_PROVIDER || "FAKTORY_URL"]
  if (process.argv.includes("--fake") || configured === undefined || configured === "") {
    yield* Console.log("using FakeFaktory (set FAKTORY_URL to a Faktory Enterprise server to run against it)")
    return yield* onFake
  }
  const enterprise = yield* Effect.flatMap(Client.Client, (client) => client.isEnterprise).pipe(
    Effect.provide(NodeClient.layer())
  )
  if (!enterprise) {
    yield* Console.log(
      "the server in the environment is open-source Faktory, which has no batches or tracking: using FakeFaktory instead"
    )
    return yield* onFake
  }
  yield* Console.log("using the Faktory Enterprise server in the environment")
  return yield* onServer
})

Effect.runPromise(main).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

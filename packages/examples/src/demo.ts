/**
 * The README's demo: a producer pushes jobs, a consumer fetches, runs and acknowledges them.
 * It uses the server in FAKTORY_URL when set, and otherwise starts a throwaway local one.
 */
import { Client } from "@effect-faktory/core"
import { NodeClient } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Console, Effect, Option } from "effect"

const queues = ["critical", "default"]

const produce = Effect.gen(function*() {
  const client = yield* Client.Client
  const jid = yield* client.push({ jobtype: "SendEmail", args: ["ada@example.com", "welcome"], queue: "critical" })
  yield* Console.log(`pushed SendEmail ${jid}`)
  const bulk = yield* client.pushBulk(
    Array.from({ length: 5 }, (_, i) => ({ jobtype: "ResizeImage", args: [`photo-${i}.jpg`, 640] }))
  )
  yield* Console.log(`pushed ${bulk.pushed.length} ResizeImage jobs with one PUSHB`)
})

const consume = Effect.gen(function*() {
  const client = yield* Client.Client
  let processed = 0
  while (true) {
    const next = yield* client.fetch(queues)
    if (Option.isNone(next)) break
    const job = next.value
    yield* Console.log(`ran ${job.jobtype}(${job.args.map((arg) => JSON.stringify(arg)).join(", ")}) from ${job.queue}`)
    yield* client.ack(job.jid)
    processed++
  }
  return processed
})

const demo = Effect.gen(function*() {
  yield* produce
  const processed = yield* consume
  const info = yield* Effect.flatMap(Client.Client, (client) => client.info)
  yield* Console.log(
    `processed ${processed} jobs; server ${info.server.faktory_version} has processed ${info.faktory.total_processed} in all`
  )
})

const main = Effect.gen(function*() {
  const configured = process.env.FAKTORY_URL ?? process.env[process.env.FAKTORY_PROVIDER ?? "FAKTORY_URL"]
  if (configured !== undefined && configured !== "") {
    yield* Console.log("using the server in the environment")
    return yield* demo.pipe(Effect.provide(NodeClient.layer()))
  }
  const server = yield* FaktoryServer.make()
  yield* Console.log(`started a local Faktory at ${server.url} (Web UI ${server.webUrl ?? "off"})`)
  yield* demo.pipe(Effect.provide(NodeClient.layer(server.clientOptions)))
}).pipe(Effect.scoped)

Effect.runPromise(main).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

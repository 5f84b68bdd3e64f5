// The Faktory server node's tests run against, and clients of it over Node sockets.
import { Client } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Option } from "effect"

/** A Faktory server for the test file, without its Web UI unless asked, and a `Client` of it. */
export const env = (server: FaktoryServer.FaktoryServerOptions = {}, client: Client.ClientOptions = {}) =>
  FaktoryServer.clientLayer(client).pipe(Layer.provideMerge(FaktoryServer.layer({ webUi: false, ...server })))

/** A server and a client; no Web UI. */
export const Env = env()

/** A client over Node sockets, for the life of the scope. */
export const client = (options: Client.ClientOptions) => Client.make(options).pipe(Effect.provide(NodeTransport.layer))

/**
 * What the server recorded for a FAILed job: moved back from the retry set to `queue`,
 * fetched (it must be that job) and ACKed.
 */
export const failureOf = (jid: string, queue: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    yield* client.mutate({ cmd: "requeue", target: "retries", filter: { jids: [jid] } })
    const job = Option.getOrThrow(yield* client.fetch([queue]))
    yield* client.ack(job.jid)
    if (job.jid !== jid) return yield* Effect.dieMessage(`fetched ${job.jid} from ${queue}, not the requeued ${jid}`)
    return job.failure
  })

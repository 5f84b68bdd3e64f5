/**
 * What core's tests need again and again: a Faktory server with a client of it, a worker on
 * that server, waiting for something to happen, and reading back what the server recorded.
 */
import { Client, type JobHandler, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect, Layer, Option, Schedule, Schema } from "effect"

/** A Faktory server for the test file, without its Web UI unless asked, and a `Client` of it. */
export const env = (server: FaktoryServer.FaktoryServerOptions = {}, client: Client.ClientOptions = {}) =>
  FaktoryServer.clientLayer(client).pipe(Layer.provideMerge(FaktoryServer.layer({ webUi: false, ...server })))

/** A server and a client; no Web UI. */
export const Env = env()

/** A server with its Web UI (the Busy page, quiet and terminate from the UI) and a client. */
export const EnvWithWebUi = env({ webUi: true })

/**
 * Waits until `condition` holds, looking every 20 ms for `seconds`; then dies saying `what`
 * did not happen.
 */
export const waitFor = (what: string, condition: () => boolean, seconds = 15) =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.orElse(() => Effect.dieMessage(`timed out after ${seconds} s waiting for: ${what}`))
  )

/**
 * Starts a worker on the test server, for the life of the scope: fast heartbeats, a short
 * shutdown and 4 processors unless `options` say otherwise; `options.client` adds to the
 * server's client options.
 */
export const startWorker = (
  options: Worker.WorkerOptions,
  handlers: Layer.Layer<never> | Layer.Layer<JobHandler.JobHandler<string>>
) =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.FaktoryServer
    return yield* Worker.make({
      heartbeatInterval: "1 second",
      shutdownTimeout: "2 seconds",
      concurrency: 4,
      ...options,
      client: { ...server.clientOptions, ...options.client }
    }).pipe(Effect.provide(Layer.merge(handlers, NodeTransport.layer)))
  })

/** How many jobs wait in `queue`, as the server's INFO says. */
export const queueSize = (queue: string) =>
  Effect.flatMap(Client.Client, (client) => client.info).pipe(Effect.map((info) => info.faktory.queues[queue] ?? 0))

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

/** A handler's typed error, with a message of its own. */
export class MailerError extends Schema.TaggedError<MailerError>()("MailerError", { detail: Schema.String }) {
  override get message() {
    return `smtp: ${this.detail}`
  }
}

/** A string's length in UTF-8 bytes, as the server counts it. */
export const utf8Length = (text: string) => new TextEncoder().encode(text).byteLength

/**
 * The effect-faktory runner: one scenario, one JSON line.
 */
import { Client, Job, JobPayload, Protocol, Worker } from "@effect-faktory/core"
import { NodeTransport, NodeWorker } from "@effect-faktory/node"
import { Effect, Either, Layer, Schema } from "effect"
import { measure, nowMs, percentiles, readParams, report, type RunResult, settledRssKb, until } from "../Scenario.js"

const params = readParams(process.argv)
const { count, concurrency, queue, url } = params

const Noop = Job.define("Noop", { args: Schema.Tuple(Schema.Number), queue })

const withClient = <A, E>(poolSize: number, f: (client: Client.Client) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(Client.make({ url, poolSize }), f)).pipe(Effect.provide(NodeTransport.layer)))

/** Runs a worker until `done` holds; `onJob` sees each job's argument. */
const runWorker = (workers: number, onJob: (arg: number) => void, done: () => boolean) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const worker = yield* Worker.Worker
        yield* Effect.promise(() => until(done))
        yield* worker.terminate
      }).pipe(
        Effect.provide(
          NodeWorker.layer({ queues: [queue], concurrency: workers, client: { url } }).pipe(
            Layer.provide(Noop.handle(([arg]) => Effect.sync(() => onJob(arg))))
          )
        )
      )
    )
  )

const scenarios: Record<typeof params.scenario, () => Promise<RunResult>> = {
  "push-await": () =>
    measure(count, () =>
      withClient(1, (client) =>
        Effect.gen(function*() {
          for (let i = 0; i < count; i++) yield* client.push({ jobtype: "Noop", queue, args: [i] })
          return {}
        }))),
  "push-concurrent": () =>
    measure(count, () =>
      withClient(10, (client) =>
        Effect.as(
          Effect.forEach(
            Array.from({ length: count }, (_, i) => i),
            (i) => client.push({ jobtype: "Noop", queue, args: [i] }),
            { concurrency, discard: true }
          ),
          {}
        ))),
  "push-pipelined": () =>
    measure(count, () =>
      withClient(1, (client) =>
        client.withConnection((connection) =>
          Effect.as(
            Effect.forEach(
              Array.from({ length: count }, (_, i) => i),
              (i) => connection.send(Protocol.push(Either.getOrThrow(JobPayload.prepare({ jobtype: "Noop", queue, args: [i] })))),
              { concurrency, discard: true }
            ),
            {}
          )
        ))),
  "push-bulk": () =>
    measure(count, () =>
      withClient(1, (client) =>
        Effect.as(client.pushBulk(Array.from({ length: count }, (_, i) => ({ jobtype: "Noop", queue, args: [i] }))), {}))),
  process: () => {
    let done = 0
    return measure(count, async () => {
      await runWorker(concurrency, () => done++, () => done >= count)
      return {}
    })
  },
  latency: () => {
    const samples: Array<number> = []
    return measure(count, async () => {
      const working = runWorker(concurrency, (sent) => samples.push(nowMs() - sent), () => samples.length >= count)
      await withClient(1, (client) =>
        Effect.gen(function*() {
          for (let i = 0; i < count; i++) {
            yield* client.push({ jobtype: "Noop", queue, args: [nowMs()] })
            yield* Effect.sleep(1000 / params.rate)
          }
        }))
      await working
      return percentiles(samples)
    })
  },
  soak: () => {
    let done = 0
    let rssAtTenthKb = 0
    return measure(count, async () => {
      await runWorker(concurrency, () => {
        done++
        if (done === Math.floor(count / 10)) rssAtTenthKb = settledRssKb()
      }, () => done >= count)
      return { rssAtTenthKb, rssAtEndKb: settledRssKb() }
    })
  }
}

scenarios[params.scenario]().then(report, (error: unknown) => {
  console.error(error)
  process.exit(1)
})

/**
 * The effect-faktory runner: one scenario, one JSON line.
 */
import { Client, Job, JobPayload, Protocol, Worker } from "@effect-faktory/core"
import { NodeTransport, NodeWorker } from "@effect-faktory/node"
import { Effect, Either, Exit, Layer, Schema, Scope } from "effect"
import { measure, type Producer, readParams, report, type RunResult, until, workerScenarios } from "../Scenario.js"

const params = readParams(process.argv)
const { count, concurrency, queue, url } = params

const Noop = Job.define("Noop", { args: Schema.Tuple(Schema.Number), queue })

const withClient = <A, E>(poolSize: number, f: (client: Client.Service) => Effect.Effect<A, E>) =>
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

/**
 * `concurrency` senders, each sending the next of `count` until none is left: the npm
 * runner's pattern, so both measure the same thing.
 */
const bySenders = <A, E>(send: (i: number) => Effect.Effect<A, E>) => {
  let next = 0
  const sender = Effect.gen(function*() {
    while (next < count) yield* send(next++)
  })
  return Effect.all(Array.from({ length: concurrency }, () => sender), { concurrency: "unbounded", discard: true })
}

const openProducer = async (): Promise<Producer> => {
  const scope = await Effect.runPromise(Scope.make())
  const client = await Effect.runPromise(
    Client.make({ url, poolSize: 1 }).pipe(Scope.extend(scope), Effect.provide(NodeTransport.layer))
  )
  return {
    push: (arg) => Effect.runPromise(Effect.asVoid(client.push({ jobtype: "Noop", queue, args: [arg] }))),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

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
      withClient(10, (client) => Effect.as(bySenders((i) => client.push({ jobtype: "Noop", queue, args: [i] })), {}))),
  "push-pipelined": () =>
    measure(count, () =>
      withClient(1, (client) =>
        client.withConnection((connection) =>
          Effect.as(
            bySenders((i) =>
              connection.send(Protocol.push(Either.getOrThrow(JobPayload.prepare({ jobtype: "Noop", queue, args: [i] }))))
            ),
            {}
          )
        ))),
  "push-bulk": () =>
    measure(count, () =>
      withClient(concurrency, (client) =>
        Effect.as(client.pushBulk(Array.from({ length: count }, (_, i) => ({ jobtype: "Noop", queue, args: [i] }))), {}))),
  ...workerScenarios(params, runWorker, openProducer)
}

scenarios[params.scenario]().then(report, (error: unknown) => {
  console.error(error)
  process.exit(1)
})

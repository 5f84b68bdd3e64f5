/**
 * The npm `faktory-worker` runner: the same scenarios through the library Node users have
 * today, one JSON line.
 */
import { create } from "faktory-worker"
import { measure, type Producer, readParams, report, type RunResult, until, workerScenarios } from "../Scenario.js"

const params = readParams(process.argv)
const faktory = create()
const { count, concurrency, queue, url } = params

const connect = (poolSize: number) => faktory.connect({ url, poolSize })

const job = (client: Awaited<ReturnType<typeof connect>>, arg: number) => {
  const made = client.job("Noop", arg)
  made.queue = queue
  return made
}

/** Runs a worker until `done` holds; `onJob` sees each job's argument. */
const runWorker = async (workers: number, onJob: (arg: number) => void, done: () => boolean) => {
  faktory.register("Noop", async (arg: unknown) => {
    onJob(typeof arg === "number" ? arg : Number.NaN)
  })
  const worker = await faktory.work({ url, concurrency: workers, queues: [queue] })
  await until(done)
  await worker.stop()
}

const openProducer = async (): Promise<Producer> => {
  const client = await connect(1)
  return {
    push: async (arg) => {
      await job(client, arg).push()
    },
    close: () => client.close()
  }
}

const scenarios: Record<typeof params.scenario, () => Promise<RunResult>> = {
  "push-await": () =>
    measure(count, async () => {
      const client = await connect(1)
      for (let i = 0; i < count; i++) await job(client, i).push()
      await client.close()
      return {}
    }),
  "push-concurrent": () =>
    measure(count, async () => {
      const client = await connect(10)
      let next = 0
      const pusher = async () => {
        while (next < count) await job(client, next++).push()
      }
      await Promise.all(Array.from({ length: concurrency }, pusher))
      await client.close()
      return {}
    }),
  // faktory-worker has no pipelining: its best push path is the concurrent pool.
  "push-pipelined": () => scenarios["push-concurrent"](),
  "push-bulk": () =>
    measure(count, async () => {
      // Up to `concurrency` batches in flight, over a pool of as many connections.
      const client = await connect(concurrency)
      let next = 0
      const sender = async () => {
        while (next < count) {
          const start = next
          next += 1000
          await client.pushBulk(Array.from({ length: Math.min(1000, count - start) }, (_, i) => job(client, start + i)))
        }
      }
      await Promise.all(Array.from({ length: concurrency }, sender))
      await client.close()
      return {}
    }),
  ...workerScenarios(params, runWorker, openProducer)
}

scenarios[params.scenario]().then(report, (error: unknown) => {
  console.error(error)
  process.exit(1)
})

/**
 * The npm `faktory-worker` runner: the same scenarios through the library Node users have
 * today, one JSON line.
 */
import { create } from "faktory-worker"
import { measure, nowMs, percentiles, readParams, report, type RunResult, settledRssKb, until } from "../Scenario.js"

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
      const client = await connect(1)
      for (let start = 0; start < count; start += 1000) {
        const batch = Array.from({ length: Math.min(1000, count - start) }, (_, i) => job(client, start + i))
        await client.pushBulk(batch)
      }
      await client.close()
      return {}
    }),
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
      const client = await connect(1)
      for (let i = 0; i < count; i++) {
        await job(client, nowMs()).push()
        await new Promise((resolve) => setTimeout(resolve, 1000 / params.rate))
      }
      await client.close()
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

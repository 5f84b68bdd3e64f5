/**
 * What a benchmark runner is asked to do and what it reports, shared by the harness and the
 * runners (each tool runs in its own process, so its memory and CPU figures are its own).
 *
 * This module imports nothing: the npm runner loads it, and its memory figures must be the
 * npm library's alone (Effect would add about 30 MB). The harness checks runner output with
 * the Schemas in `ScenarioSchema`.
 */

export const scenarioNames = ["push-await", "push-concurrent", "push-pipelined", "push-bulk", "process", "latency", "soak"] as const
export type ScenarioName = typeof scenarioNames[number]

export interface ScenarioParams {
  readonly scenario: ScenarioName
  readonly url: string
  readonly queue: string
  readonly count: number
  /** Pushers for push-concurrent, window for push-pipelined, worker concurrency otherwise. */
  readonly concurrency: number
  /** Jobs per second, for latency. */
  readonly rate: number
}

export interface RunResult {
  readonly jobsPerSecond: number
  readonly seconds: number
  readonly cpuSeconds: number
  /** The user-space part of cpuSeconds (the rest is the kernel's, mostly socket I/O). */
  readonly userCpuSeconds: number
  readonly peakRssKb: number
  /** Resident memory after a GC with the library loaded, before any work (Node runners). */
  readonly loadedRssKb?: number | undefined
  readonly p50Ms?: number | undefined
  readonly p99Ms?: number | undefined
  /** soak: resident memory after a GC at 10% and at 100% of the jobs. */
  readonly rssAtTenthKb?: number | undefined
  readonly rssAtEndKb?: number | undefined
}

const isScenarioName = (value: unknown): value is ScenarioName =>
  scenarioNames.some((name) => name === value)
const isInt = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value)

/** Reads the parameters a runner was started with (the harness wrote them). */
export const readParams = (argv: ReadonlyArray<string>): ScenarioParams => {
  const raw = argv[2]
  if (raw === undefined) throw new Error("usage: runner '<json parameters>'")
  const parsed: unknown = JSON.parse(raw)
  if (typeof parsed !== "object" || parsed === null) throw new Error(`parameters must be an object: ${raw}`)
  const field = (key: string): unknown => Reflect.get(parsed, key)
  const [concurrency, count, queue, rate, scenario, url] = ["concurrency", "count", "queue", "rate", "scenario", "url"].map(field)
  if (
    !isScenarioName(scenario) || typeof url !== "string" || typeof queue !== "string" || !isInt(count) ||
    !isInt(concurrency) || typeof rate !== "number"
  ) {
    throw new Error(`bad parameters: ${raw}`)
  }
  return { scenario, url, queue, count, concurrency, rate }
}

/**
 * Marks the start of a worker scenario's measured work: its first job handled. The Go worker
 * delays each processor's first FETCH by a random 0 to 2.1 s (see LATENCY_SETTLE_MILLIS);
 * measured, its first job came 0.27 to 1.7 s after its start at concurrency 1 (5,000 jobs,
 * a quarter of the run), and that wait, not its work, was in its rate. So every runner's
 * processing rate counts from its first job: none pays its start, which start-up's rows
 * measure. (With the stagger removed from a copy of faktory_worker_go, concurrency 10 was
 * no faster from its first job: 3,700 to 3,900 jobs/s against 4,500 to 5,200 with it, so the
 * processors' later starts hold it back no further.)
 */
export const startClock = (): void => {
  startedAt ??= performance.now()
}
let startedAt: number | undefined = undefined

/**
 * Marks the end of the measured work (the last job handled): a worker's shutdown afterwards,
 * which waits for its in-flight FETCHes, is not part of throughput.
 */
export const stopClock = (): void => {
  stoppedAt ??= { at: performance.now(), cpu: process.cpuUsage() }
}
let stoppedAt: { at: number; cpu: NodeJS.CpuUsage } | undefined = undefined

/** Measures a run: wall time, CPU and peak RSS of this process. */
export const measure = async (
  count: number,
  run: () => Promise<Partial<RunResult>>
): Promise<RunResult> => {
  const loadedRssKb = settledRssKb()
  const cpu = process.cpuUsage()
  const started = performance.now()
  const extra = await run()
  stopClock()
  const seconds = (stoppedAt!.at - (startedAt ?? started)) / 1000
  const usedUntilStop = { user: stoppedAt!.cpu.user - cpu.user, system: stoppedAt!.cpu.system - cpu.system }
  return {
    jobsPerSecond: count / seconds,
    seconds,
    cpuSeconds: (usedUntilStop.user + usedUntilStop.system) / 1e6,
    userCpuSeconds: usedUntilStop.user / 1e6,
    peakRssKb: process.resourceUsage().maxRSS,
    loadedRssKb,
    ...extra
  }
}

/** Epoch milliseconds with sub-millisecond precision, comparable within one process. */
export const nowMs = (): number => performance.timeOrigin + performance.now()

export const percentiles = (samples: Array<number>): { p50Ms: number; p99Ms: number } => {
  const sorted = samples.slice().sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.floor((sorted.length - 1) * p)] ?? 0
  return { p50Ms: at(0.5), p99Ms: at(0.99) }
}

/** Resident memory after a full GC (runners start with --expose-gc). */
export const settledRssKb = (): number => {
  const gc: unknown = Reflect.get(globalThis, "gc")
  if (typeof gc === "function") gc()
  return Math.round(process.memoryUsage.rss() / 1024)
}

/** Prints the result as the runner's last line and exits. */
export const report = (result: RunResult): never => {
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
}

/** Resolves when `condition` holds, checking every 5 ms. */
export const until = (condition: () => boolean): Promise<void> =>
  new Promise((resolve) => {
    const check = () => {
      if (!condition()) return setTimeout(check, 1)
      stopClock()
      resolve()
    }
    check()
  })

/** Runs a tool's worker until `done` holds; `onJob` sees each job's argument. */
export type RunWorker = (workers: number, onJob: (arg: number) => void, done: () => boolean) => Promise<void>

/** A tool's producer, for the latency scenario. */
export interface Producer {
  readonly push: (arg: number) => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * How long every runner's worker is given to start before the latency scenario's first push
 * (the Go runner waits as long). faktory_worker_go delays each processor's first FETCH by a
 * random 0 to 2.1 s (2^31 ns; `process` in its runner.go, to spread a fleet's start): jobs
 * pushed sooner waited in the queue until one fetched, in a staircase (measured: the first 6
 * to 25 jobs waited 25 to 240 ms), and that wait, not the worker's latency, was Go's p99,
 * which swung from 3 to 400 ms between runs. Measured from a started worker, every tool's p99
 * is a job's latency.
 */
export const LATENCY_SETTLE_MILLIS = 2500

/**
 * The worker scenarios, alike for every tool: only how its worker runs and how it pushes
 * differ, so both runners measure exactly the same thing.
 */
export const workerScenarios = (
  params: ScenarioParams,
  runWorker: RunWorker,
  openProducer: () => Promise<Producer>
): Record<"process" | "latency" | "soak", () => Promise<RunResult>> => {
  const { concurrency, count } = params
  return {
    process: () => {
      let done = 0
      return measure(count, async () => {
        await runWorker(concurrency, () => {
          if (done++ === 0) startClock()
        }, () => done >= count)
        return {}
      })
    },
    latency: () => {
      const samples: Array<number> = []
      return measure(count, async () => {
        const working = runWorker(concurrency, (sent) => samples.push(nowMs() - sent), () => samples.length >= count)
        // The worker's start is not part of a job's latency: see LATENCY_SETTLE_MILLIS.
        await new Promise((resolve) => setTimeout(resolve, LATENCY_SETTLE_MILLIS))
        const producer = await openProducer()
        for (let i = 0; i < count; i++) {
          await producer.push(nowMs())
          await new Promise((resolve) => setTimeout(resolve, 1000 / params.rate))
        }
        await producer.close()
        await working
        return percentiles(samples)
      })
    },
    soak: () => {
      let done = 0
      let rssAtTenthKb = 0
      return measure(count, async () => {
        await runWorker(concurrency, () => {
          if (done++ === 0) startClock()
          if (done === Math.floor(count / 10)) rssAtTenthKb = settledRssKb()
        }, () => done >= count)
        return { rssAtTenthKb, rssAtEndKb: settledRssKb() }
      })
    }
  }
}

import { expect, layer } from "@effect/vitest"
import { Job, Metrics, PoolConflictError, Worker } from "@effect-faktory/core"
import { NodeTransport } from "@effect-faktory/node"
import { FaktoryServer } from "@effect-faktory/testing"
import { Cause, Context, Deferred, Effect, Exit, HashMap, Layer, Logger, Metric, MetricState, Option, Schema, Scope } from "effect"
import { recordingTracer } from "./RecordingTracer.js"
import { EnvWithWebUi, queueSize, waitFor } from "./support.js"

/**
 * A pool on the test server: fast heartbeats, and a shutdown timeout well above the jobs'
 * few seconds, so that a drain measured here is the jobs' time, never the timeout's.
 */
const pool = <ROut>(options: Worker.WorkerOptions, handlers: Layer.Layer<ROut>) =>
  Effect.map(FaktoryServer.FaktoryServer, (server) =>
    Worker.layer({ heartbeatInterval: "1 second", shutdownTimeout: "20 seconds", ...options, client: server.clientOptions })
      .pipe(Layer.provide(handlers)))

/** Jobs running now in one pool, and the most seen at once. */
const inFlight = () => ({ now: 0, max: 0 })

/** Closes `scope` and measures how long its shutdown took, in ms. */
const timedClose = (scope: Scope.CloseableScope) =>
  Effect.gen(function*() {
    const started = Date.now()
    yield* Scope.close(scope, Exit.void)
    return Date.now() - started
  })

/** The pool named `name`. */
const named = (pools: Worker.PoolsService, name: string) => {
  const found = pools.pools().find((pool) => pool.name === name)
  if (found === undefined) throw new Error(`no pool ${name} among ${pools.pools().map((pool) => pool.name).join(", ")}`)
  return found.worker
}

layer(EnvWithWebUi, { excludeTestServices: true, timeout: "120 seconds" })("several worker pools in one process", (it) => {
  it.scoped("two pools with their own queues and concurrency each run at most their concurrency", () =>
    Effect.gen(function*() {
      const Resize = Job.define("PoolResize", { args: Schema.Tuple(Schema.Number), queue: "pools-images" })
      const Email = Job.define("PoolEmail", { args: Schema.Tuple(Schema.Number), queue: "pools-mail" })
      const release = yield* Deferred.make<void>()
      const images = inFlight()
      const mail = inFlight()
      const imagesFull = yield* Deferred.make<void>()
      const mailFull = yield* Deferred.make<void>()
      // Holds each job until `release`, so that a pool fills all its processors.
      const held = (count: { now: number; max: number }, limit: number, full: Deferred.Deferred<void>) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            count.now++
            count.max = Math.max(count.max, count.now)
            if (count.now === limit) Deferred.unsafeDone(full, Exit.void)
          }),
          () => Deferred.await(release),
          () => Effect.sync(() => count.now--)
        )
      const Pools = Layer.mergeAll(
        yield* pool({ pool: "images", queues: ["pools-images"], concurrency: 2 }, Resize.handle(() => held(images, 2, imagesFull))),
        yield* pool({ pool: "mail", queues: ["pools-mail"], concurrency: 5 }, Email.handle(() => held(mail, 5, mailFull)))
      ).pipe(Layer.provide(NodeTransport.layer))
      const built = yield* Layer.build(Pools)
      const pools = Option.getOrThrow(yield* Effect.serviceOption(Worker.Pools).pipe(Effect.provide(built)))
      expect(pools.pools().map((pool) => pool.name)).toEqual(["images", "mail"])
      // `Worker` is one of them: the last merged.
      expect(Context.get(built, Worker.Worker).pool).toBe("mail")

      for (let i = 0; i < 8; i++) yield* Resize.push([i])
      for (let i = 0; i < 12; i++) yield* Email.push([i])
      yield* Effect.all([Deferred.await(imagesFull), Deferred.await(mailFull)]).pipe(Effect.timeout("15 seconds"))
      // Every processor holds a job, so none is fetching: what is not running is still queued.
      expect(yield* queueSize("pools-images")).toBe(6)
      expect(yield* queueSize("pools-mail")).toBe(7)

      yield* Deferred.succeed(release, undefined)
      yield* waitFor("20 jobs ACKed", () =>
        named(pools, "images").processed().acked === 8 && named(pools, "mail").processed().acked === 12)
      expect({ images: images.max, mail: mail.max }).toEqual({ images: 2, mail: 5 })
    }))

  it.scoped("each pool is a worker of its own on the server: two wids, two processes on the Web UI's Busy page", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const Ping = Job.define("PoolPing", { args: Schema.Tuple() })
      const Pools = Layer.mergeAll(
        yield* pool({ pool: "first", queues: ["pools-wid-a"] }, Ping.handle(() => Effect.void)),
        yield* pool({ pool: "second", queues: ["pools-wid-b"] }, Ping.handle(() => Effect.void))
      ).pipe(Layer.provide(NodeTransport.layer))
      const built = yield* Layer.build(Pools)
      const pools = Option.getOrThrow(yield* Effect.serviceOption(Worker.Pools).pipe(Effect.provide(built)))
      const [first, second] = pools.pools().map((pool) => pool.worker.wid)
      expect(first).toBeDefined()
      expect(first).not.toBe(second)
      const busy = yield* Effect.promise(() => fetch(`${server.webUrl}/busy`).then((response) => response.text()))
      expect(busy).toContain(first)
      expect(busy).toContain(second)
      // Their labels tell them apart there: they share the process's hostname and pid.
      expect(busy).toContain("pool:first")
      expect(busy).toContain("pool:second")
    }))

  // The time from the scope's closing to the end of its shutdown, with one job of DRAIN_MS
  // running in each pool: concurrently, about DRAIN_MS; one pool after the other, twice that.
  const DRAIN_MS = 3000
  const drainTime = (composition: "merged" | "nested" | "one pool") =>
    Effect.gen(function*() {
      const suffix = composition.replace(" ", "-")
      const SlowA = Job.define("PoolSlowA", { args: Schema.Tuple(), queue: `pools-drain-a-${suffix}` })
      const SlowB = Job.define("PoolSlowB", { args: Schema.Tuple(), queue: `pools-drain-b-${suffix}` })
      const startedA = yield* Deferred.make<void>()
      const startedB = yield* Deferred.make<void>()
      const a = yield* pool(
        { pool: "drain-a", queues: [`pools-drain-a-${suffix}`], concurrency: 1 },
        SlowA.handle(() => Effect.zipRight(Deferred.succeed(startedA, undefined), Effect.sleep(DRAIN_MS)))
      )
      const b = yield* pool(
        { pool: "drain-b", queues: [`pools-drain-b-${suffix}`], concurrency: 1 },
        SlowB.handle(() => Effect.zipRight(Deferred.succeed(startedB, undefined), Effect.sleep(DRAIN_MS)))
      )
      const Pools = composition === "merged"
        ? Layer.mergeAll(a, b)
        // Nested: Effect releases these one after the other; the pools' registry drains them at once.
        : composition === "nested"
        ? Layer.provideMerge(a, b)
        : a
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Pools.pipe(Layer.provide(NodeTransport.layer)), scope)
      const pools = Option.getOrThrow(yield* Effect.serviceOption(Worker.Pools).pipe(Effect.provide(context)))
      yield* SlowA.push([])
      yield* Deferred.await(startedA)
      if (composition !== "one pool") {
        yield* SlowB.push([])
        yield* Deferred.await(startedB)
      }
      const millis = yield* timedClose(scope)
      // Every job finished within the drain (ACKed), none interrupted.
      for (const { worker } of pools.pools()) expect(worker.processed()).toEqual({ acked: 1, failed: 0 })
      yield* Effect.log(`shutdown of ${composition}: ${millis} ms`)
      return millis
    })

  it.scoped("the scope's closing drains two pools concurrently: one job's time, not two", () =>
    Effect.gen(function*() {
      const one = yield* drainTime("one pool")
      const merged = yield* drainTime("merged")
      const nested = yield* drainTime("nested")
      expect(one).toBeLessThan(DRAIN_MS + 1500)
      expect(merged).toBeLessThan(DRAIN_MS + 1500)
      expect(nested).toBeLessThan(DRAIN_MS + 1500)
    }))

  it.scoped("a named pool labels its metrics, annotates its log lines and jobs' lines, and its spans", () =>
    Effect.gen(function*() {
      const Thumb = Job.define("PoolThumb", { args: Schema.Tuple(), queue: "pools-obs-images" })
      const Letter = Job.define("PoolLetter", { args: Schema.Tuple(), queue: "pools-obs-mail" })
      const lines: Array<{ readonly message: string; readonly pool: string | undefined }> = []
      const capture = Logger.make(({ annotations, message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        const pool = Option.getOrUndefined(HashMap.get(annotations, "pool"))
        lines.push({ message: text, pool: typeof pool === "string" ? pool : undefined })
      })
      const { made, tracer } = yield* recordingTracer
      const Pools = Layer.mergeAll(
        yield* pool({ pool: "obs-images", queues: ["pools-obs-images"] }, Thumb.handle(() => Effect.log("thumbnail made"))),
        yield* pool({ pool: "obs-mail", queues: ["pools-obs-mail"] }, Letter.handle(() => Effect.log("letter sent")))
      ).pipe(Layer.provide(NodeTransport.layer))
      const built = yield* Layer.build(Pools).pipe(Effect.provide(Logger.add(capture)), Effect.withTracer(tracer))
      const pools = Option.getOrThrow(yield* Effect.serviceOption(Worker.Pools).pipe(Effect.provide(built)))
      yield* Thumb.push([])
      yield* Letter.push([])
      yield* waitFor("both jobs ACKed", () =>
        named(pools, "obs-images").processed().acked === 1 && named(pools, "obs-mail").processed().acked === 1)

      const acked = (jobtype: string, queue: string, poolName: string) =>
        Effect.map(
          Metric.value(Metrics.jobsAcked.pipe(
            Metric.tagged("jobtype", jobtype),
            Metric.tagged("queue", queue),
            Metric.tagged("pool", poolName)
          )),
          (state) => state.count
        )
      expect(yield* acked("PoolThumb", "pools-obs-images", "obs-images")).toBe(1)
      expect(yield* acked("PoolLetter", "pools-obs-mail", "obs-mail")).toBe(1)
      expect(yield* acked("PoolThumb", "pools-obs-images", "obs-mail")).toBe(0)
      const fetches = (poolName: string) =>
        Effect.map(
          Metric.value(Metrics.fetchDuration.pipe(Metric.tagged("pool", poolName))),
          (state) => (MetricState.isHistogramState(state) ? state.count : -1)
        )
      expect(yield* fetches("obs-images")).toBeGreaterThan(0)
      expect(yield* fetches("obs-mail")).toBeGreaterThan(0)

      // The worker's own lines and the handlers' lines, each with its pool.
      expect(lines.find((line) => line.message.includes("thumbnail made"))?.pool).toBe("obs-images")
      expect(lines.find((line) => line.message.includes("letter sent"))?.pool).toBe("obs-mail")
      const startLines = lines.filter((line) => line.message.startsWith("worker ")).map((line) => line.pool).sort()
      expect(startLines).toEqual(["obs-images", "obs-mail"])

      const processSpan = (queue: string) => made.find((span) => span.name === `process ${queue}`)
      expect(processSpan("pools-obs-images")?.attributes.get("messaging.faktory.pool")).toBe("obs-images")
      expect(processSpan("pools-obs-mail")?.attributes.get("messaging.faktory.pool")).toBe("obs-mail")

      // Terminate's lines run on the fiber that closes the scope, and still say their pool.
      yield* pools.terminate.pipe(Effect.provide(Logger.add(capture)))
      const stopLines = lines.filter((line) => line.message.startsWith("stopped: ")).map((line) => line.pool).sort()
      expect(stopLines).toEqual(["obs-images", "obs-mail"])
    }))

  it.scoped("two pools claiming one queue are refused at start, naming the queue and both pools", () =>
    Effect.gen(function*() {
      const Ping = Job.define("PoolPingSame", { args: Schema.Tuple() })
      const handlers = Ping.handle(() => Effect.void)
      const exit = yield* Layer.build(Layer.mergeAll(
        yield* pool({ pool: "urgent", queues: ["pools-same", "pools-other"] }, handlers),
        yield* pool({ pool: "bulk", queues: { "pools-same": 1, "pools-bulk": 3 } }, handlers)
      ).pipe(Layer.provide(NodeTransport.layer))).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.isSome(error) && error.value instanceof PoolConflictError).toBe(true)
      if (Option.isNone(error) || !(error.value instanceof PoolConflictError)) return
      expect(error.value.conflict).toBe("queue")
      expect(error.value.value).toBe("pools-same")
      expect([error.value.pool, error.value.otherPool].sort()).toEqual(["bulk", "urgent"])
      expect(error.value.message).toContain(`both fetch from queue "pools-same"`)
      expect(error.value.message).toContain(`"urgent"`)
      expect(error.value.message).toContain(`"bulk"`)
    }))

  it.scoped("a queue shared on purpose (sharedQueues on both pools) is allowed; on one side only it is not", () =>
    Effect.gen(function*() {
      const Ping = Job.define("PoolPingShared", { args: Schema.Tuple(), queue: "pools-shared" })
      const ran: Array<string> = []
      const build = (sharedA: ReadonlyArray<string>, sharedB: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          return yield* Layer.build(Layer.mergeAll(
            yield* pool(
              { pool: "shared-a", queues: ["pools-shared"], sharedQueues: sharedA },
              Ping.handle(() => Effect.sync(() => ran.push("a")))
            ),
            yield* pool(
              { pool: "shared-b", queues: ["pools-shared", "pools-b-own"], sharedQueues: sharedB },
              Ping.handle(() => Effect.sync(() => ran.push("b")))
            )
          ).pipe(Layer.provide(NodeTransport.layer)))
        }).pipe(Effect.scoped, Effect.exit)
      const oneSided = yield* build(["pools-shared"], [])
      expect(Exit.isFailure(oneSided) && Cause.pretty(oneSided.cause)).toContain("sharedQueues")

      yield* Effect.gen(function*() {
        yield* Layer.build(Layer.mergeAll(
          yield* pool(
            { pool: "shared-a", queues: ["pools-shared"], sharedQueues: ["pools-shared"] },
            Ping.handle(() => Effect.sync(() => ran.push("a")))
          ),
          yield* pool(
            { pool: "shared-b", queues: ["pools-shared", "pools-b-own"], sharedQueues: ["pools-shared"] },
            Ping.handle(() => Effect.sync(() => ran.push("b")))
          )
        ).pipe(Layer.provide(NodeTransport.layer)))
        for (let i = 0; i < 10; i++) yield* Ping.push([])
        yield* waitFor("ten jobs run", () => ran.length === 10)
      }).pipe(Effect.scoped)
    }))

  it.scoped("two pools of one name, or a sharedQueues entry the pool does not fetch from, are refused", () =>
    Effect.gen(function*() {
      const Ping = Job.define("PoolPingName", { args: Schema.Tuple() })
      const handlers = Ping.handle(() => Effect.void)
      const sameName = yield* Layer.build(Layer.mergeAll(
        yield* pool({ pool: "twin", queues: ["pools-twin-a"] }, handlers),
        yield* pool({ pool: "twin", queues: ["pools-twin-b"] }, handlers)
      ).pipe(Layer.provide(NodeTransport.layer))).pipe(Effect.scoped, Effect.flip)
      expect(sameName).toBeInstanceOf(PoolConflictError)
      expect(sameName.message).toContain(`two pools are named "twin"`)

      const notFetched = yield* Layer.build(
        (yield* pool({ queues: ["pools-x"], sharedQueues: ["pools-y"] }, handlers)).pipe(Layer.provide(NodeTransport.layer))
      ).pipe(Effect.scoped, Effect.flip)
      expect(notFetched.message).toContain(`sharedQueues names "pools-y"`)
    }))

  it.scoped("pools built apart (two Effect.provide) do not see each other: a test's workers may share a queue", () =>
    Effect.gen(function*() {
      const Ping = Job.define("PoolPingApart", { args: Schema.Tuple(), queue: "pools-apart" })
      const handlers = Ping.handle(() => Effect.void)
      const first = yield* pool({ queues: ["pools-apart"] }, handlers)
      const second = yield* pool({ queues: ["pools-apart"] }, handlers)
      yield* Layer.build(first.pipe(Layer.provide(NodeTransport.layer)))
      yield* Layer.build(second.pipe(Layer.provide(NodeTransport.layer)))
    }))
})

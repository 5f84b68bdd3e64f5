import { expect, layer } from "@effect/vitest"
import { Client } from "@effect-faktory/core"
import { FaktoryServer } from "@effect-faktory/testing"
import { Effect } from "effect"
import { fixture, node, waitForOutput, withOutput } from "./support/binary.js"
import * as Http from "node:http"
import { env } from "./support/server.js"
import { waitFor } from "./support/wait.js"

const runMainPools = fixture("run-main-pools.mjs")

/** How long a job runs: the shutdown waits for it. */
const JOB_MS = 3000

/** The JSON lines a process wrote, parsed; lines that are not JSON are left out. */
const records = (output: string): ReadonlyArray<{ readonly message: unknown; readonly annotations: Record<string, unknown> }> =>
  output.split("\n").flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line)
      return typeof value === "object" && value !== null && "message" in value && "annotations" in value &&
          typeof value.annotations === "object" && value.annotations !== null
        ? [{ message: value.message, annotations: { ...value.annotations } }]
        : []
    } catch {
      return []
    }
  })

/**
 * Runs the fixture with `pools` pools, a job of JOB_MS running in each, then SIGTERM: how long
 * the process took from the signal to its exit, and what it wrote.
 */
const shutdownAfterSigterm = (pools: "one" | "two") =>
  Effect.gen(function*() {
    const server = yield* FaktoryServer.FaktoryServer
    const client = yield* Client.Client
    const worker = yield* node(runMainPools, [pools], { FAKTORY_URL: server.url })
    const queues = pools === "one" ? ["rm-pools-images"] : ["rm-pools-images", "rm-pools-mail"]
    yield* waitForOutput(worker, pools === "one" ? "started" : "rm-pools-mail")
    for (const queue of queues) yield* client.push({ jobtype: "Sleep", queue, args: [JOB_MS] })
    yield* waitFor(`${queues.length} jobs running`, () => worker.output().split(`sleeping ${JOB_MS}`).length - 1 === queues.length)
    const signalled = Date.now()
    worker.child.kill("SIGTERM")
    const exit = yield* worker.exit.pipe(Effect.timeout("30 seconds"))
    const millis = Date.now() - signalled
    yield* Effect.log(`${pools} pool(s): exit ${exit.code} ${millis} ms after SIGTERM`)
    return { exit, millis, output: worker.output() }
  })

/** Signals a worker from the Web UI, as a person would with the Busy page's buttons. */
const signalFromWebUi = (wid: string, signal: "quiet" | "terminate") =>
  Effect.flatMap(FaktoryServer.FaktoryServer, (server) =>
    Effect.async<number>((resume) => {
      const body = new URLSearchParams({ wid, signal }).toString()
      const request = Http.request(`${server.webUrl}/busy`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) }
      }, (response) => {
        response.resume()
        resume(Effect.succeed(response.statusCode ?? 0))
      })
      request.on("error", (error) => resume(Effect.die(error)))
      request.end(body)
    }))

/** The lines of `output` whose message contains `text`, by their `pool` annotation, sorted. */
const poolsSaying = (output: string, text: string) =>
  records(output).filter((line) => JSON.stringify(line.message).includes(text)).map((line) => line.annotations.pool).sort()

layer(env({ webUi: true }), { excludeTestServices: true, timeout: "120 seconds" })("several pools under NodeWorker.runMain", (it) => {
  it.scoped("SIGTERM drains both pools at once: a running job's time, as for one pool, each job ACKed", () =>
    Effect.gen(function*() {
      const one = yield* shutdownAfterSigterm("one")
      const two = yield* shutdownAfterSigterm("two")
      expect(one.exit.code).toBe(0)
      expect(two.exit.code).toBe(0)
      // One job's time (it had started before the signal), not two one after the other.
      expect(two.millis).toBeLessThan(JOB_MS + 1500)
      expect(two.millis - one.millis).toBeLessThan(1000)

      const lines = records(two.output)
      const stopped = lines.filter((line) => JSON.stringify(line.message).includes("stopped: 1 acked, 0 failed"))
      expect(stopped.map((line) => line.annotations.pool).sort()).toEqual(["images", "mail"])
      const jobs = lines.filter((line) => JSON.stringify(line.message).includes(`sleeping ${JOB_MS}`))
      expect(jobs.map((line) => line.annotations.pool).sort()).toEqual(["images", "mail"])
      const info = yield* Effect.flatMap(Client.Client, (client) => client.info)
      expect(info.faktory.queues["rm-pools-images"] ?? 0).toBe(0)
      expect(info.faktory.queues["rm-pools-mail"] ?? 0).toBe(0)
    }))

  it.scoped("SIGTSTP quiets every pool; a terminate from the Web UI to one pool stops the process, every pool with it", () =>
    Effect.gen(function*() {
      const server = yield* FaktoryServer.FaktoryServer
      const worker = yield* node(runMainPools, ["two"], { FAKTORY_URL: server.url })
      yield* waitFor("both pools started", () => poolsSaying(worker.output(), "started on").length === 2)
      // A job run in each shows the process past its start, where it listens for SIGTSTP
      // (before that, the signal's default action would stop the process).
      const client = yield* Client.Client
      for (const queue of ["rm-pools-images", "rm-pools-mail"]) yield* client.push({ jobtype: "Sleep", queue, args: [1] })
      yield* waitFor("a job in each pool", () => poolsSaying(worker.output(), "sleeping 1\"").length === 2)
      worker.child.kill("SIGTSTP")
      yield* waitFor("both pools quiet", () => poolsSaying(worker.output(), "quiet: no longer fetching").length === 2)
        .pipe(withOutput(worker))
      expect(poolsSaying(worker.output(), "quiet: no longer fetching")).toEqual(["images", "mail"])

      const started = records(worker.output()).find((line) =>
        line.annotations.pool === "images" && JSON.stringify(line.message).includes("started on")
      )
      const wid = /worker ([0-9a-f]+) started/.exec(JSON.stringify(started?.message))?.[1]
      expect(wid).toBeDefined()
      if (wid === undefined) return
      expect(yield* signalFromWebUi(wid, "terminate")).toBeLessThan(400)
      const exit = yield* worker.exit.pipe(Effect.timeout("30 seconds"))
      expect(exit.code).toBe(0)
      expect(poolsSaying(worker.output(), "stopped: ")).toEqual(["images", "mail"])
    }))
})

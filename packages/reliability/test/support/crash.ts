/**
 * Crashing a FaktoryServer (from @effect-faktory/testing) and looking inside its Redis.
 *
 * The layer restarts a server on the same data directory (`stop`, then `start`), and gives the
 * server's pid; the Redis that Faktory starts as its child is found by its command line, which
 * names the data directory. Faktory writes its own redis.conf at every start: RDB snapshots
 * only ("save 30 5", "save 120 1"), no append-only file, so a Redis killed with SIGKILL loses
 * every write since its last snapshot. `durableRedis` puts a `redis-server` first on the PATH
 * that Faktory searches, which adds `--appendonly yes --appendfsync always`: Redis then syncs
 * every write to disk before it replies, and a SIGKILL loses nothing Faktory acknowledged.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { FaktoryServer } from "@effect-faktory/testing"

const which = (command: string): string => ChildProcess.execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim()

/** For the scope: every server started in it runs Redis with an fsynced append-only file. */
export const durableRedis = Effect.acquireRelease(
  Effect.sync(() => {
    const real = which("redis-server")
    const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "redis-aof-"))
    const wrapper = Path.join(directory, "redis-server")
    Fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${real} "$@" --appendonly yes --appendfsync always\n`, { mode: 0o755 })
    const previous = process.env.PATH
    process.env.PATH = `${directory}${Path.delimiter}${previous ?? ""}`
    return { directory, previous }
  }),
  ({ directory, previous }) =>
    Effect.sync(() => {
      if (previous === undefined) delete process.env.PATH
      else process.env.PATH = previous
      Fs.rmSync(directory, { recursive: true, force: true })
    })
)

/** The pids of the Redis serving `directory`. */
export const redisPids = (directory: string): ReadonlyArray<number> => {
  try {
    return ChildProcess.execFileSync("pgrep", ["-f", `redis-server .*${directory}`], { encoding: "utf8" })
      .split("\n").filter((line) => line.trim() !== "").map(Number)
  } catch {
    return []
  }
}

/** A Redis command against the server's own Redis (its Unix socket in the data directory). */
export const redis = (directory: string, ...args: ReadonlyArray<string>): Array<string> =>
  ChildProcess.execFileSync("redis-cli", ["-s", Path.join(directory, "db", "redis.sock"), "--raw", ...args], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024
  }).split("\n").filter((line) => line !== "")

/** Whether Redis runs with an append-only file (checks that `durableRedis` took effect). */
export const appendOnly = (directory: string): boolean => redis(directory, "CONFIG", "GET", "appendonly")[1] === "yes"

/**
 * The jobs Faktory holds reserved (its `working` sorted set): each reservation's jid and when
 * it was made. A job FETCHed just before a crash, whose reply never reached the worker, stays
 * there until the reservation expires (reserve_for, 30 min by default), and then runs again.
 */
export const reservations = (directory: string): Array<{ readonly jid: string; readonly reservedAt: number }> =>
  redis(directory, "ZRANGE", "working", "0", "-1").map((entry) => {
    const parsed: unknown = JSON.parse(entry)
    const job = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "job") : undefined
    const jid = typeof job === "object" && job !== null ? Reflect.get(job, "jid") : undefined
    const reservedAt = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "reserved_at") : undefined
    return { jid: String(jid), reservedAt: typeof reservedAt === "string" ? Date.parse(reservedAt) : Number.NaN }
  })

/** SIGKILLs Faktory and its Redis together, then reaps them through the layer (data kept). */
export const killHard = (server: FaktoryServer.FaktoryServer) =>
  Effect.gen(function*() {
    const redisPid = redisPids(server.directory)
    const faktoryPid = server.pid()
    if (faktoryPid === undefined || redisPid.length === 0) return yield* Effect.die(`nothing to kill: faktory ${faktoryPid}, redis ${redisPid.join(",")}`)
    for (const pid of redisPid) process.kill(pid, "SIGKILL")
    process.kill(faktoryPid, "SIGKILL")
    // The supervisor sees the server die and exits; `stop` waits for that and sweeps up.
    yield* server.stop
  })

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
export const killHard = (server: FaktoryServer.Service) =>
  Effect.gen(function*() {
    const redisPid = redisPids(server.directory)
    const faktoryPid = server.pid()
    if (faktoryPid === undefined || redisPid.length === 0) return yield* Effect.die(`nothing to kill: faktory ${faktoryPid}, redis ${redisPid.join(",")}`)
    for (const pid of redisPid) process.kill(pid, "SIGKILL")
    process.kill(faktoryPid, "SIGKILL")
    // The supervisor sees the server die and exits; `stop` waits for that and sweeps up.
    yield* server.stop
  })

/** The commands of Redis's append-only file, in order (Redis 7's multi-part AOF, never rewritten here). */
export const appendOnlyCommands = (directory: string): Array<ReadonlyArray<string>> | undefined => {
  const aofDirectory = Path.join(directory, "db", "appendonlydir")
  const incremental = Fs.readdirSync(aofDirectory).filter((file) => file.endsWith(".incr.aof"))
  // A rewrite would move history into a base file that this does not read.
  if (incremental.length !== 1) return undefined
  const data = Fs.readFileSync(Path.join(aofDirectory, incremental[0]!))
  const commands: Array<ReadonlyArray<string>> = []
  let at = 0
  const line = () => {
    const end = data.indexOf("\r\n", at)
    const text = data.subarray(at + 1, end).toString("latin1")
    at = end + 2
    return Number(text)
  }
  // A command cut short by the SIGKILL may end the file.
  while (at < data.byteLength && data[at] === 0x2a) {
    const count = line()
    const args: Array<string> = []
    for (let i = 0; i < count && at < data.byteLength; i++) {
      const length = line()
      args.push(data.subarray(at, at + length).toString("utf8"))
      at += length + 2
    }
    if (args.length === count) commands.push(args)
  }
  return commands
}

const jidIn = (text: string): string | undefined => /"jid":"([^"]+)"/.exec(text)?.[1]

/**
 * The jobs of `queue` that a FETCH took off the queue (Faktory's RPOP) and that were never
 * reserved (its ZADD to `working`, a separate command) because Redis was killed in between,
 * within the last `window` commands before Redis started again. Faktory's FETCH is not atomic:
 * such a job is lost by the server, whatever the client does.
 */
export const poppedButNeverReserved = (directory: string, queue: string, window = 64): Set<string> | undefined => {
  const commands = appendOnlyCommands(directory)
  if (commands === undefined) return undefined
  const key = `q:${queue}`
  const boots = commands.flatMap((command, index) => (command[0]?.toUpperCase() === "SELECT" ? [index] : []))
  const waiting: Array<string> = []
  const poppedAt = new Map<string, number>()
  const reserved = new Set<string>()
  commands.forEach((command, index) => {
    const name = command[0]?.toUpperCase()
    if (name === "LPUSH" && command[1] === key) {
      for (const payload of command.slice(2)) {
        const jid = jidIn(payload)
        if (jid !== undefined) waiting.unshift(jid)
      }
    } else if ((name === "RPOP" || name === "BRPOP") && command[1] === key) {
      const jid = waiting.pop()
      if (jid !== undefined) poppedAt.set(jid, index)
    } else if (name === "ZADD" && command[1] === "working") {
      for (const member of command.slice(2)) {
        const jid = jidIn(member)
        if (jid !== undefined && (poppedAt.get(jid) ?? Infinity) < index) reserved.add(jid)
      }
    }
  })
  const lost = new Set<string>()
  for (const [jid, index] of poppedAt) {
    if (reserved.has(jid)) continue
    const nextBoot = boots.find((boot) => boot > index)
    if (nextBoot !== undefined && nextBoot - index <= window) lost.add(jid)
  }
  return lost
}

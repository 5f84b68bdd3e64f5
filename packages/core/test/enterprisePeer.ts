/**
 * A TCP peer that speaks Faktory Enterprise's wire as `faktory-protocol.md` §7 describes it,
 * for the tests of the Enterprise commands (no Enterprise server can run here). It keeps just
 * enough state to answer like the server: queues, reservations, batches (NEW, OPEN, COMMIT,
 * STATUS; callbacks enqueued once a committed batch's jobs and children are done, carrying
 * `_bid` and `_pbid`), tracking (TRACK GET/SET, `reserve_until` moving a reservation), unique
 * locks (`-NOTUNIQUE Job not unique`, and `NOTUNIQUE Job not unique` inside a PUSHB map) and
 * expiry at FETCH. Its replies follow the shapes the public clients read; `options` choose
 * among the odd ones (OPEN answered with `+OK`, `No such batch` upper-case, a STATUS with empty
 * and missing fields). Every command line it receives is kept, in order, in `lines`.
 */
import { Effect } from "effect"
import * as Net from "node:net"

export interface PeerOptions {
  /** INFO's `server.description`. Default `Faktory Enterprise`. */
  readonly description?: string
  /** BATCH OPEN answered with the bid as a bulk string (Go, Rust) or `+OK` (what Ruby ignores). */
  readonly openReply?: "bid" | "ok"
  /** `No such batch` as older servers write it, or `no such batch` as newer ones do. */
  readonly notFoundCase?: "upper" | "lower"
  /** BATCH STATUS with its odd shapes: `parent_bid` and `description` empty, `created_at` missing, counts as strings. */
  readonly oddStatus?: boolean
  /** Refuse TRACK SET with this error line (as open-source Faktory does). */
  readonly refuseTrackSet?: string
}

export interface PeerBatch {
  readonly bid: string
  readonly parent: string | undefined
  readonly description: string | undefined
  readonly success: Record<string, unknown> | undefined
  readonly complete: Record<string, unknown> | undefined
  readonly createdAt: string
  readonly jids: Set<string>
  readonly children: Set<string>
  committed: boolean
  pending: number
  failed: number
  completeState: "" | "1" | "2"
  successState: "" | "1" | "2"
}

interface Tracked {
  state: string
  percent?: number
  desc?: string
  updatedAt: string
}

export interface EnterprisePeer {
  readonly url: string
  /** Every command line received, HELLO excepted, in order of arrival. */
  readonly lines: Array<string>
  readonly batches: Map<string, PeerBatch>
  /** Each reserved job's reservation end (epoch milliseconds). */
  readonly reservations: Map<string, number>
  /** ACKed jids, and FAILed jids with their errtype. */
  readonly acked: Array<string>
  readonly failed: Array<{ readonly jid: string; readonly errtype: string; readonly message: string }>
  /** The jobs waiting in a queue. */
  readonly queued: (queue: string) => ReadonlyArray<Record<string, unknown>>
  /** The lines received since `mark` (an index into `lines`) that start with one of `verbs`. */
  readonly sentSince: (mark: number, verbs?: ReadonlyArray<string>) => ReadonlyArray<string>
}

type Job = Record<string, unknown>

const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`
const NULL = "$-1\r\n"
const OK = "+OK\r\n"

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const customOf = (job: Job): Record<string, unknown> => (isRecord(job.custom) ? job.custom : {})

let counter = 0
const newBid = () => `b-peer${(++counter).toString(36).padStart(6, "0")}`

export const enterprisePeer = (options: PeerOptions = {}) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket>; readonly peer: EnterprisePeer }>((resume) => {
      const lines: Array<string> = []
      const queues = new Map<string, Array<Job>>()
      const reserved = new Map<string, Job>()
      const reservations = new Map<string, number>()
      const batches = new Map<string, PeerBatch>()
      const tracked = new Map<string, Tracked>()
      const locks = new Map<string, { until: number; jid: string; release: "success" | "start" }>()
      const acked: Array<string> = []
      const failed: Array<{ jid: string; errtype: string; message: string }> = []
      const sockets = new Set<Net.Socket>()

      const now = () => new Date().toISOString()
      const queueOf = (name: string) => {
        let queue = queues.get(name)
        if (queue === undefined) queues.set(name, (queue = []))
        return queue
      }
      const noSuchBatch = (bid: string) =>
        `-ERR ${options.notFoundCase === "upper" ? "No such batch" : "no such batch"} ${bid}\r\n`
      const lockKey = (job: Job) => JSON.stringify([job.jobtype, job.args, job.queue ?? "default"])
      const track = (jid: string, state: string) => {
        const entry = tracked.get(jid)
        if (entry !== undefined) {
          entry.state = state
          entry.updatedAt = now()
        }
      }

      /** Enqueues a batch's callbacks once it is committed, its jobs done and its children finished. */
      const settle = (bid: string | undefined): void => {
        if (bid === undefined) return
        const batch = batches.get(bid)
        if (batch === undefined || !batch.committed || batch.pending > 0) return
        // A parent's callbacks wait for its children's to have run (Ruby client, batch.rb).
        for (const child of batch.children) {
          const state = batches.get(child)
          if (state === undefined) continue
          if (state.complete !== undefined && state.completeState !== "2") return
          if (state.success !== undefined && state.successState !== "2" && state.failed === 0) return
        }
        const fire = (callback: Record<string, unknown> | undefined, which: "complete" | "success") => {
          if (callback === undefined) return
          const current = which === "complete" ? batch.completeState : batch.successState
          if (current !== "") return
          if (which === "success" && batch.failed > 0) return
          const job: Job = {
            ...callback,
            queue: callback.queue ?? "default",
            custom: { ...customOf(callback), _bid: bid, ...(batch.parent === undefined ? {} : { _pbid: batch.parent }) }
          }
          queueOf(String(job.queue)).push(job)
          if (which === "complete") batch.completeState = "1"
          else batch.successState = "1"
        }
        fire(batch.complete, "complete")
        fire(batch.success, "success")
      }

      const finish = (jid: string, ok: boolean) => {
        const job = reserved.get(jid)
        reserved.delete(jid)
        reservations.delete(jid)
        if (job === undefined) return
        track(jid, ok ? "success" : "failed")
        const custom = customOf(job)
        for (const [key, lock] of locks) if (lock.jid === jid && ok) locks.delete(key)
        const callbackOf = typeof custom._bid === "string" ? batches.get(custom._bid) : undefined
        if (callbackOf !== undefined && ok) {
          // Which callback this is: the one whose jobtype it has.
          if (callbackOf.complete !== undefined && callbackOf.complete.jobtype === job.jobtype) callbackOf.completeState = "2"
          if (callbackOf.success !== undefined && callbackOf.success.jobtype === job.jobtype) callbackOf.successState = "2"
          settle(callbackOf.parent)
        }
        const bid = typeof custom.bid === "string" ? custom.bid : undefined
        const batch = bid === undefined ? undefined : batches.get(bid)
        if (batch !== undefined) {
          batch.pending--
          if (!ok) batch.failed++
          settle(bid)
          settle(batch.parent)
        }
      }

      /** PUSH's checks and effect: undefined when taken, else the refusal (`CODE message`). */
      const push = (job: Job): string | undefined => {
        const custom = customOf(job)
        if (typeof custom.unique_for === "number") {
          const key = lockKey(job)
          const lock = locks.get(key)
          if (lock !== undefined && lock.until > Date.now()) return "NOTUNIQUE Job not unique"
          locks.set(key, {
            until: Date.now() + custom.unique_for * 1000,
            jid: String(job.jid),
            release: custom.unique_until === "start" ? "start" : "success"
          })
        }
        if (typeof custom.bid === "string") {
          const batch = batches.get(custom.bid)
          if (batch !== undefined) {
            batch.jids.add(String(job.jid))
            batch.pending++
          }
        }
        if (custom.track === 1) tracked.set(String(job.jid), { state: "enqueued", updatedAt: now() })
        queueOf(typeof job.queue === "string" && job.queue !== "" ? job.queue : "default").push(job)
        return undefined
      }

      const fetch = (names: ReadonlyArray<string>): Job | undefined => {
        for (const name of names) {
          const queue = queues.get(name)
          while (queue !== undefined && queue.length > 0) {
            const job = queue.shift()!
            const custom = customOf(job)
            // Expiring jobs: dropped at fetch once their time has passed.
            if (typeof custom.expires_at === "string" && Date.parse(custom.expires_at) <= Date.now()) continue
            for (const [key, lock] of locks) if (lock.jid === job.jid && lock.release === "start") locks.delete(key)
            const jid = String(job.jid)
            reserved.set(jid, job)
            const seconds = typeof job.reserve_for === "number" && job.reserve_for > 0 ? Math.max(60, job.reserve_for) : 1800
            reservations.set(jid, Date.now() + seconds * 1000)
            track(jid, "working")
            return job
          }
        }
        return undefined
      }

      const status = (batch: PeerBatch): string => {
        if (options.oddStatus === true) {
          return JSON.stringify({
            bid: batch.bid,
            parent_bid: "",
            description: null,
            total: String(batch.jids.size),
            pending: String(batch.pending),
            failed: String(batch.failed),
            complete_st: batch.completeState,
            success_st: batch.successState
          })
        }
        return JSON.stringify({
          bid: batch.bid,
          ...(batch.parent === undefined ? {} : { parent_bid: batch.parent }),
          description: batch.description ?? "",
          created_at: batch.createdAt,
          total: batch.jids.size,
          pending: batch.pending,
          failed: batch.failed,
          complete_st: batch.completeState,
          success_st: batch.successState
        })
      }

      /** The reply to one line; a Promise for a FETCH that waits. */
      const answer = (line: string): string | undefined | Promise<string> => {
        const space = line.indexOf(" ")
        const verb = space === -1 ? line : line.slice(0, space)
        const rest = space === -1 ? "" : line.slice(space + 1)
        switch (verb) {
          case "HELLO":
            return OK
          case "END":
            return undefined
          case "FLUSH":
          case "BEAT":
            return OK
          case "INFO":
            return bulk(JSON.stringify({
              now: now(),
              faktory: { queues: {}, total_failures: 0, total_processed: 0, total_enqueued: 0, total_queues: 0 },
              server: {
                description: options.description ?? "Faktory Enterprise",
                faktory_version: "1.9.3",
                uptime: 1,
                connections: sockets.size,
                command_count: lines.length,
                used_memory_mb: 10
              }
            }))
          case "PUSH": {
            const refused = push(JSON.parse(rest) as Job)
            return refused === undefined ? OK : `-${refused}\r\n`
          }
          case "PUSHB": {
            const refusals: Record<string, string> = {}
            for (const job of JSON.parse(rest) as Array<Job>) {
              const refused = push(job)
              if (refused !== undefined) refusals[String(job.jid)] = refused
            }
            return bulk(JSON.stringify(refusals))
          }
          case "FETCH": {
            const job = fetch(rest.split(" "))
            if (job !== undefined) return bulk(JSON.stringify(job))
            return new Promise((done) => setTimeout(() => {
              const later = fetch(rest.split(" "))
              done(later === undefined ? NULL : bulk(JSON.stringify(later)))
            }, 100))
          }
          case "ACK": {
            const jid = String((JSON.parse(rest) as Job).jid)
            acked.push(jid)
            finish(jid, true)
            return OK
          }
          case "FAIL": {
            const report = JSON.parse(rest) as Job
            failed.push({ jid: String(report.jid), errtype: String(report.errtype), message: String(report.message) })
            finish(String(report.jid), false)
            return OK
          }
          case "BATCH": {
            const sub = rest.slice(0, rest.indexOf(" "))
            const argument = rest.slice(rest.indexOf(" ") + 1)
            switch (sub) {
              case "NEW": {
                const spec = JSON.parse(argument) as Record<string, unknown>
                const success = isRecord(spec.success) ? spec.success : undefined
                const complete = isRecord(spec.complete) ? spec.complete : undefined
                if (success === undefined && complete === undefined) return "-ERR Batch must have a success or complete callback\r\n"
                const parent = typeof spec.parent_bid === "string" && spec.parent_bid !== "" ? spec.parent_bid : undefined
                if (parent !== undefined && !batches.has(parent)) return noSuchBatch(parent)
                const bid = newBid()
                batches.set(bid, {
                  bid,
                  parent,
                  description: typeof spec.description === "string" ? spec.description : undefined,
                  success,
                  complete,
                  createdAt: now(),
                  jids: new Set(),
                  children: new Set(),
                  committed: false,
                  pending: 0,
                  failed: 0,
                  completeState: "",
                  successState: ""
                })
                if (parent !== undefined) batches.get(parent)!.children.add(bid)
                return bulk(bid)
              }
              case "OPEN": {
                const batch = batches.get(argument)
                if (batch === undefined) return noSuchBatch(argument)
                batch.committed = false
                return options.openReply === "ok" ? OK : bulk(argument)
              }
              case "COMMIT": {
                const batch = batches.get(argument)
                if (batch === undefined) return noSuchBatch(argument)
                batch.committed = true
                settle(argument)
                settle(batch.parent)
                return OK
              }
              case "STATUS": {
                const batch = batches.get(argument)
                return batch === undefined ? noSuchBatch(argument) : bulk(status(batch))
              }
            }
            return `-ERR unknown batch subcommand ${sub}\r\n`
          }
          case "TRACK": {
            const sub = rest.slice(0, rest.indexOf(" "))
            const argument = rest.slice(rest.indexOf(" ") + 1)
            if (sub === "GET") {
              const entry = tracked.get(argument)
              return bulk(JSON.stringify(
                entry === undefined
                  ? { jid: argument, state: "unknown", updated_at: "" }
                  : {
                    jid: argument,
                    state: entry.state,
                    updated_at: entry.updatedAt,
                    ...(entry.percent === undefined ? {} : { percent: entry.percent }),
                    ...(entry.desc === undefined ? {} : { desc: entry.desc })
                  }
              ))
            }
            if (sub === "SET") {
              if (options.refuseTrackSet !== undefined) return `-ERR ${options.refuseTrackSet}\r\n`
              const update = JSON.parse(argument) as Record<string, unknown>
              const jid = String(update.jid)
              const entry = tracked.get(jid)
              if (entry !== undefined) {
                if (typeof update.percent === "number") entry.percent = update.percent
                if (typeof update.desc === "string") entry.desc = update.desc
                entry.updatedAt = now()
              }
              if (typeof update.reserve_until === "string") {
                const until = Date.parse(update.reserve_until)
                if (Number.isNaN(until) || until > Date.now() + 86_400_000) return "-ERR invalid reserve_until\r\n"
                const current = reservations.get(jid)
                // Extends a reservation, never shortens it.
                if (current !== undefined && until > current) reservations.set(jid, until)
              }
              return OK
            }
            return `-ERR unknown track subcommand ${sub}\r\n`
          }
        }
        return `-ERR unknown command ${verb}\r\n`
      }

      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        socket.write("+HI {\"v\":2}\r\n")
        let buffered = ""
        // Replies go out in the order their commands came, a waiting FETCH included.
        let chain: Promise<void> = Promise.resolve()
        socket.on("data", (data: Buffer) => {
          buffered += data.toString("utf8")
          let end = buffered.indexOf("\r\n")
          while (end !== -1) {
            const line = buffered.slice(0, end)
            buffered = buffered.slice(end + 2)
            end = buffered.indexOf("\r\n")
            if (!line.startsWith("HELLO ")) lines.push(line)
            chain = chain.then(async () => {
              const reply = await answer(line)
              if (line === "END") socket.end()
              else if (reply !== undefined && !socket.destroyed) socket.write(reply)
            })
          }
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          server,
          sockets,
          peer: {
            url: `tcp://127.0.0.1:${port}`,
            lines,
            batches,
            reservations,
            acked,
            failed,
            queued: (queue) => queues.get(queue) ?? [],
            sentSince: (mark, verbs) =>
              lines.slice(mark).filter((line) => verbs === undefined || verbs.some((verb) => line.startsWith(verb)))
          }
        }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ peer }) => peer))

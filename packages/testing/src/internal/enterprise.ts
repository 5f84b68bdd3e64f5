/**
 * Faktory Enterprise as `FakeFaktory` models it: batches, job tracking, unique locks and
 * expiring jobs, kept in memory. Each command is answered as the server answers it on the
 * wire (a `Resp.Reply`), so that the command's own reader (`Replies`) turns the answer into
 * the value or the typed error the real client gives.
 *
 * The rules are those of `faktory-protocol.md` §7, as core's test peer
 * (`packages/core/test/enterprisePeer.ts`) plays them against the real client; a parity test
 * runs one workflow through both. Where the two could differ, this file says so.
 *
 * Time is the wall clock (`Date.now()`), as the core's own `expiresIn` and reservation checks
 * read it, not Effect's `Clock`: under `TestClock` a job still expires in real time.
 *
 * @internal
 */
import { JobPayload, Resp } from "@effect-faktory/core"

type Raw = Record<string, unknown>

const isRecord = (value: unknown): value is Raw => typeof value === "object" && value !== null && !Array.isArray(value)

const customOf = (job: { readonly custom?: unknown }): Raw => (isRecord(job.custom) ? job.custom : {})

/** A batch as the server keeps it. */
export interface FakeBatch {
  readonly bid: string
  readonly parent: string | undefined
  readonly description: string | undefined
  /** The callback jobs as `BATCH NEW` carried them. */
  readonly success: Raw | undefined
  readonly complete: Raw | undefined
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
  state: "enqueued" | "working" | "success" | "failed"
  percent?: number
  desc?: string
  updatedAt: string
}

interface Lock {
  readonly until: number
  readonly jid: string
  readonly release: "success" | "start"
}

/** `BATCH COMMIT`'s answer, and the callback jobs it enqueued. */
export interface Committed {
  readonly reply: Resp.Reply
  readonly enqueued: ReadonlyArray<Raw>
}

/** What the server says for the batch subsystem and the tracking subsystem on open-source Faktory. */
export const OPEN_SOURCE_BATCH = "batch subsystem is only available in Faktory Enterprise"
export const OPEN_SOURCE_TRACKING = "tracking subsystem is only available in Faktory Enterprise"

const OK = Resp.simpleString("OK")
const noSuchBatch = (bid: string) => Resp.errorReply("ERR", `no such batch ${bid}`)

/** The refusal of a duplicate unique job, as a PUSHB map carries it (`CODE message`). */
export const NOT_UNIQUE = "NOTUNIQUE Job not unique"

export interface Model {
  /**
   * A job the server is given (PUSH or PUSHB): its refusal (`NOT_UNIQUE`) when a twin holds
   * its unique lock; otherwise undefined, and the job takes its lock, joins its batch and is
   * tracked.
   */
  readonly pushed: (job: JobPayload.Job) => string | undefined
  /** A job a worker fetches: false when it has expired (the server drops it unrun). */
  readonly fetched: (job: JobPayload.Job) => boolean
  /** A job ACKed (`ok`) or FAILed: the callback jobs this enqueued, as the server builds them. */
  readonly finished: (job: JobPayload.Job, ok: boolean) => ReadonlyArray<Raw>
  readonly batchNew: (spec: Raw) => Resp.Reply
  readonly batchOpen: (bid: string) => Resp.Reply
  readonly batchCommit: (bid: string) => Committed
  readonly batchStatus: (bid: string) => Resp.Reply
  readonly trackGet: (jid: string) => Resp.Reply
  readonly trackSet: (update: Raw) => Resp.Reply
  /** Forgets every batch, tracked job and lock (FLUSH). */
  readonly clear: () => void
}

export const make = (): Model => {
  const batches = new Map<string, FakeBatch>()
  const tracked = new Map<string, Tracked>()
  const locks = new Map<string, Lock>()

  const now = () => new Date().toISOString()
  // The key of a unique lock: jobtype, arguments and queue (§7.3).
  const lockKey = (job: JobPayload.Job) => JSON.stringify([job.jobtype, job.args, job.queue ?? "default"])
  const track = (jid: string, state: Tracked["state"]) => {
    const entry = tracked.get(jid)
    if (entry !== undefined) {
      entry.state = state
      entry.updatedAt = now()
    }
  }
  /** Releases the job's unique locks held until `release`, or every lock it holds (`undefined`). */
  const releaseLocksOf = (jid: string, release?: "success" | "start") => {
    for (const [key, lock] of locks) {
      if (lock.jid === jid && (release === undefined || lock.release === release)) locks.delete(key)
    }
  }

  /**
   * Enqueues a batch's callbacks once it is committed, its jobs are done and its children's
   * callbacks have succeeded (a child whose success callback can never fire, one of its jobs
   * having failed, does not hold the parent back).
   */
  const settle = (bid: string | undefined, fired: Array<Raw>): void => {
    if (bid === undefined) return
    const batch = batches.get(bid)
    if (batch === undefined || !batch.committed || batch.pending > 0) return
    for (const child of batch.children) {
      const state = batches.get(child)
      if (state === undefined) continue
      if (state.complete !== undefined && state.completeState !== "2") return
      if (state.success !== undefined && state.successState !== "2" && state.failed === 0) return
    }
    const fire = (callback: Raw | undefined, which: "complete" | "success") => {
      if (callback === undefined) return
      if ((which === "complete" ? batch.completeState : batch.successState) !== "") return
      if (which === "success" && batch.failed > 0) return
      // Callback jobs carry the batch as `_bid` (and its parent as `_pbid`), and no `bid`.
      fired.push({
        ...callback,
        queue: callback.queue ?? "default",
        custom: { ...customOf(callback), _bid: bid, ...(batch.parent === undefined ? {} : { _pbid: batch.parent }) }
      })
      if (which === "complete") batch.completeState = "1"
      else batch.successState = "1"
    }
    fire(batch.complete, "complete")
    fire(batch.success, "success")
  }

  const pushed = (job: JobPayload.Job): string | undefined => {
    const custom = customOf(job)
    if (typeof custom.unique_for === "number") {
      const key = lockKey(job)
      const lock = locks.get(key)
      const at = Date.now()
      if (lock !== undefined && lock.until > at) return NOT_UNIQUE
      // A scheduled job's lock counts from when it is due, as Job.UniqueOptions.for documents
      // (the peer counts from the push; it is never given a scheduled unique job).
      const due = job.at === undefined ? at : Math.max(at, Date.parse(job.at) || at)
      locks.set(key, {
        until: due + custom.unique_for * 1000,
        jid: job.jid,
        release: custom.unique_until === "start" ? "start" : "success"
      })
    }
    if (typeof custom.bid === "string") {
      const batch = batches.get(custom.bid)
      if (batch !== undefined) {
        batch.jids.add(job.jid)
        batch.pending++
      }
    }
    if (custom.track === 1) tracked.set(job.jid, { state: "enqueued", updatedAt: now() })
    return undefined
  }

  const expired = (job: JobPayload.Job): boolean => {
    const custom = customOf(job)
    if (typeof custom.expires_at === "string") return Date.parse(custom.expires_at) <= Date.now()
    // Newer servers take `expires_in`, in seconds from the push (§7.3); the peer reads only
    // `expires_at`, which is all the typed API writes.
    if (typeof custom.expires_in === "number" && job.enqueued_at !== undefined) {
      return Date.parse(job.enqueued_at) + custom.expires_in * 1000 <= Date.now()
    }
    return false
  }

  const fetched = (job: JobPayload.Job): boolean => {
    if (expired(job)) return false
    releaseLocksOf(job.jid, "start")
    track(job.jid, "working")
    return true
  }

  const finished = (job: JobPayload.Job, ok: boolean): ReadonlyArray<Raw> => {
    const fired: Array<Raw> = []
    track(job.jid, ok ? "success" : "failed")
    // A job that succeeded releases every lock it holds, whichever its `until`.
    if (ok) releaseLocksOf(job.jid)
    const custom = customOf(job)
    const callbackOf = typeof custom._bid === "string" ? batches.get(custom._bid) : undefined
    if (callbackOf !== undefined && ok) {
      // Which callback this is: the one enqueued with this jid (the peer goes by jobtype, which
      // differs only for a batch whose two callbacks share a jobtype).
      if (callbackOf.complete !== undefined && callbackOf.complete.jid === job.jid) callbackOf.completeState = "2"
      if (callbackOf.success !== undefined && callbackOf.success.jid === job.jid) callbackOf.successState = "2"
      settle(callbackOf.parent, fired)
    }
    const batch = typeof custom.bid === "string" ? batches.get(custom.bid) : undefined
    if (batch !== undefined) {
      batch.pending--
      if (!ok) batch.failed++
      settle(batch.bid, fired)
      settle(batch.parent, fired)
    }
    return fired
  }

  const batchNew = (spec: Raw): Resp.Reply => {
    const success = isRecord(spec.success) ? spec.success : undefined
    const complete = isRecord(spec.complete) ? spec.complete : undefined
    if (success === undefined && complete === undefined) {
      return Resp.errorReply("ERR", "Batch must have a success or complete callback")
    }
    const parent = typeof spec.parent_bid === "string" && spec.parent_bid !== "" ? spec.parent_bid : undefined
    if (parent !== undefined && !batches.has(parent)) return noSuchBatch(parent)
    const bid = `b-${JobPayload.randomJid()}`
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
    return Resp.bulkString(bid)
  }

  const batchOpen = (bid: string): Resp.Reply => {
    const batch = batches.get(bid)
    if (batch === undefined) return noSuchBatch(bid)
    batch.committed = false
    return Resp.bulkString(bid)
  }

  const batchCommit = (bid: string): Committed => {
    const batch = batches.get(bid)
    if (batch === undefined) return { reply: noSuchBatch(bid), enqueued: [] }
    batch.committed = true
    const fired: Array<Raw> = []
    settle(bid, fired)
    settle(batch.parent, fired)
    return { reply: OK, enqueued: fired }
  }

  const batchStatus = (bid: string): Resp.Reply => {
    const batch = batches.get(bid)
    if (batch === undefined) return noSuchBatch(bid)
    return Resp.bulkString(JSON.stringify({
      bid: batch.bid,
      ...(batch.parent === undefined ? {} : { parent_bid: batch.parent }),
      description: batch.description ?? "",
      created_at: batch.createdAt,
      total: batch.jids.size,
      pending: batch.pending,
      failed: batch.failed,
      complete_st: batch.completeState,
      success_st: batch.successState
    }))
  }

  const trackGet = (jid: string): Resp.Reply => {
    const entry = tracked.get(jid)
    return Resp.bulkString(JSON.stringify(
      entry === undefined
        ? { jid, state: "unknown", updated_at: "" }
        : {
          jid,
          state: entry.state,
          updated_at: entry.updatedAt,
          ...(entry.percent === undefined ? {} : { percent: entry.percent }),
          ...(entry.desc === undefined ? {} : { desc: entry.desc })
        }
    ))
  }

  const trackSet = (update: Raw): Resp.Reply => {
    // An untracked job's progress is taken and forgotten; `reserve_until` has no reservation
    // to move here (the fake's runner guards none).
    const entry = tracked.get(String(update.jid))
    if (entry !== undefined) {
      if (typeof update.percent === "number") entry.percent = update.percent
      if (typeof update.desc === "string") entry.desc = update.desc
      entry.updatedAt = now()
    }
    return OK
  }

  return {
    pushed,
    fetched,
    finished,
    batchNew,
    batchOpen,
    batchCommit,
    batchStatus,
    trackGet,
    trackSet,
    clear: () => {
      batches.clear()
      tracked.clear()
      locks.clear()
    }
  }
}

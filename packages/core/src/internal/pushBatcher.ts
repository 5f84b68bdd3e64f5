/**
 * Pushes made while others are on their way travel together. Concurrent producers (request
 * handlers, an `Effect.forEach` with concurrency) each push one job and wait for its answer;
 * the server spends more on a command than on a job inside one. A push goes out at once, as a
 * PUSH, when the pool has nothing in flight; otherwise it waits for the replies that arrive in
 * the same turn of the event loop, and the jobs gathered by then go out as PUSHB commands
 * spread over the pool. Each caller still gets its own answer: the PUSHB reply names every
 * refused job with the reason a PUSH would have given. A push interrupted while it is
 * gathered is not sent; one interrupted while it waits for the answer has been sent, as with
 * a PUSH already written.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ConnectionPool, OpenError } from "../ConnectionPool.js"
import { type CommandError, JobValidationError, ServerError } from "../Errors.js"
import type { PushableJob } from "../JobPayload.js"
import * as Protocol from "../Protocol.js"
import type * as Resp from "../Resp.js"
import { describeThrown } from "./describeThrown.js"

/**
 * A checked job's PUSH command. Writing the JSON reads the job again: a getter that passed the
 * check may now throw or return what JSON cannot carry. That job is refused; writing it runs
 * outside any fiber here, where a throw would be uncaught.
 *
 * @internal
 */
export const pushCommand = (job: PushableJob): Either.Either<Protocol.Command, JobValidationError> => {
  try {
    return Either.right(Protocol.push(job))
  } catch (error) {
    return Either.left(
      new JobValidationError({
        jobtype: job.jobtype,
        jid: job.jid,
        detail: `writing it as JSON threw ${describeThrown(error)} (did a getter change after the check?)`
      })
    )
  }
}

/** @internal */
export interface PushBatcherOptions {
  readonly pool: ConnectionPool
  /** The most jobs in one PUSHB. */
  readonly maxBatch: number
  /** The pool's size: how many commands the server may run at once for us. */
  readonly connections: number
  /** Reads a PUSH reply. */
  readonly pushReply: (reply: Resp.Reply) => Either.Either<void, CommandError>
  /** Reads a PUSHB reply: the refused jobs' jids, each with its reason. */
  readonly pushBulkReply: (reply: Resp.Reply) => Either.Either<Readonly<Record<string, string>>, CommandError>
}

interface Waiting {
  readonly job: PushableJob
  readonly resume: (result: Effect.Effect<void, CommandError | JobValidationError>) => void
}

/**
 * Returns `push`: sends a checked job, batched with the others pushed in the same turn.
 *
 * @internal
 */
export const make = (
  options: PushBatcherOptions
): (job: PushableJob) => Effect.Effect<void, CommandError | JobValidationError> => {
  const { connections, maxBatch, pool, pushBulkReply, pushReply } = options
  let waiting: Array<Waiting> = []

  const sendOne = ({ job, resume }: Waiting) => {
    const command = pushCommand(job)
    if (Either.isLeft(command)) return resume(command)
    pool.unsafeSend(command.right, (result) => resume(Either.flatMap(result, pushReply)))
  }

  const sendMany = (batch: ReadonlyArray<Waiting>) => {
    let command: Protocol.Command
    try {
      command = Protocol.pushBulk(batch.map((entry) => entry.job))
    } catch {
      // One job cannot be written: each goes alone, so that only it is refused.
      for (const entry of batch) sendOne(entry)
      return
    }
    pool.unsafeSend(command, (result: Either.Either<Resp.Reply, OpenError>) => {
      const refused = Either.flatMap(result, pushBulkReply)
      if (Either.isLeft(refused)) {
        for (const entry of batch) entry.resume(refused)
        return
      }
      for (const entry of batch) {
        // Own keys only: a jid such as "constructor" must not find the prototype's.
        const reason = Object.hasOwn(refused.right, entry.job.jid) ? refused.right[entry.job.jid] : undefined
        entry.resume(reason === undefined ? Effect.void : Effect.fail(refusal(reason)))
      }
    })
  }

  const flush = () => {
    const all = waiting
    waiting = []
    // Empty when every push gathered was interrupted.
    if (all.length === 0) return
    if (all.length === 1) return sendOne(all[0]!)
    // The server runs each connection's commands one at a time, so the turn's jobs are spread
    // over as many commands as the pool has connections, each still carrying at least
    // `spreadAbove` jobs: fewer, larger commands cost the server less (measured with 50
    // concurrent pushers over a pool of 10: one PUSHB per flush 19k jobs/s, spread with at
    // least 8 to 32 jobs a command 27–32k, at least 4 only 21k).
    const commands = Math.max(
      Math.ceil(all.length / maxBatch),
      Math.min(connections, Math.ceil(all.length / spreadAbove))
    )
    const size = Math.ceil(all.length / commands)
    for (let start = 0; start < all.length; start += size) {
      const batch = commands === 1 ? all : all.slice(start, start + size)
      if (batch.length === 1) sendOne(batch[0]!)
      else sendMany(batch)
    }
  }

  return (job) =>
    Effect.async((resume) => {
      // Nothing in flight: no reply can bring more pushes this turn, so waiting would only
      // add latency (one producer awaiting each push).
      if (waiting.length === 0 && pool.isIdle()) return sendOne({ job, resume })
      const entry = { job, resume }
      waiting.push(entry)
      if (waiting.length === 1) afterIo(flush)
      return Effect.sync(() => {
        const index = waiting.indexOf(entry)
        if (index !== -1) waiting.splice(index, 1)
      })
    })
}

/**
 * Runs `f` once the I/O callbacks of this turn of the event loop have run: the producers
 * that replies arriving together resume then push together. A microtask fires after each
 * socket's callback instead. Measured in the benchmark with 50 concurrent pushers, 5 runs
 * each: 12 jobs a PUSHB instead of 5, and 0.60 client CPU seconds per 20,000 jobs instead of
 * 0.70; the rate stayed within the noise (24.6k against 23.8k jobs/s), as the server bounds it.
 */
const afterIo = (f: () => void): void => {
  if (typeof setImmediate === "function") setImmediate(f)
  else setTimeout(f, 0)
}

/** Fewest jobs in a command that is split off a turn's batch. */
const spreadAbove = 16

/** `CODE message` for the server's coded refusals (NOTUNIQUE, …), as PUSH's `-CODE message`. */
const codedReason = /^([A-Z][A-Z_]*) (.*)$/s

/**
 * A PUSHB refusal as the error PUSH would have failed with.
 *
 * @internal
 */
export const refusal = (reason: string): ServerError => {
  const coded = codedReason.exec(reason)
  return coded === null
    ? new ServerError({ command: "PUSH", code: "ERR", detail: reason })
    : new ServerError({ command: "PUSH", code: coded[1]!, detail: coded[2]! })
}

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
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import type { ConnectionPool } from "../../ConnectionPool.js"
import { type CommandError, JobValidationError, type NotUniqueError } from "../../Errors.js"
import type { PushableJob } from "../../JobPayload.js"
import * as Protocol from "../../Protocol.js"
import * as Replies from "../../Replies.js"
import { describeThrown } from "../shared/describeThrown.js"

/**
 * A checked job's PUSH command. Writing the JSON reads the job again: a getter that passed the
 * check may now throw or return what JSON cannot carry. That job is refused; writing it runs
 * outside any fiber here, where a throw would be uncaught.
 *
 * @internal
 */
export const pushCommand = (
  job: PushableJob
): Either.Either<Protocol.Command<void, Protocol.ReplyError | NotUniqueError>, JobValidationError> => {
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
  /** How a command goes out and its reply is read: the client's own `send`. */
  readonly send: <A, E>(command: Protocol.Command<A, E>) => Effect.Effect<A, E | CommandError>
  /** The most jobs in one PUSHB. */
  readonly maxBatch: number
  /** The pool's size: how many commands the server may run at once for us. */
  readonly connections: number
  /**
   * Where gathered pushes are sent from: a flush runs after the event loop's I/O turn, outside
   * any caller's fiber, so it forks on the client's runtime (its logger and tracer), as
   * `RequestResolver.dataLoader` forks its batches.
   */
  readonly runtime: Runtime.Runtime<never>
}

type PushResult = Effect.Effect<void, CommandError | JobValidationError | NotUniqueError>

interface Waiting {
  readonly job: PushableJob
  readonly resume: (result: PushResult) => void
}

/**
 * Returns `push`: sends a checked job, batched with the others pushed in the same turn.
 *
 * @internal
 */
export const make = (options: PushBatcherOptions): (job: PushableJob) => PushResult => {
  const { connections, maxBatch, pool, send } = options
  const runFork = Runtime.runFork(options.runtime)
  let waiting: Array<Waiting> = []

  const sendOne = (job: PushableJob): PushResult => {
    const command = pushCommand(job)
    return Either.isLeft(command) ? command : send(command.right)
  }

  /** A gathered job sent alone; whatever happens, its waiter is resumed with it. */
  const sendAlone = (entry: Waiting): Effect.Effect<void> =>
    Effect.map(Effect.exit(sendOne(entry.job)), entry.resume)

  const sendMany = (batch: ReadonlyArray<Waiting>): Effect.Effect<void> => {
    let command: Protocol.Command<Readonly<Record<string, string>>, Protocol.ReplyError>
    try {
      command = Protocol.pushBulk(batch.map((entry) => entry.job))
    } catch {
      // One job cannot be written: each goes alone, so that only it is refused.
      return Effect.forEach(batch, sendAlone, { concurrency: "unbounded", discard: true })
    }
    return Effect.map(Effect.exit(send(command)), (exit) => {
      // A failure or a defect reaches every waiter as it is.
      if (Exit.isFailure(exit)) {
        for (const entry of batch) entry.resume(exit)
        return
      }
      const refused = exit.value
      for (const entry of batch) {
        // Own keys only: a jid such as "constructor" must not find the prototype's.
        const reason = Object.hasOwn(refused, entry.job.jid) ? refused[entry.job.jid] : undefined
        entry.resume(reason === undefined ? Effect.void : Effect.fail(Replies.pushRefusal(reason, entry.job)))
      }
    })
  }

  const flush = () => {
    let all = waiting
    waiting = []
    // Empty when every push gathered was interrupted.
    if (all.length === 0) return
    if (all.length === 1) {
      runFork(sendAlone(all[0]!))
      return
    }
    all = apartRepeatedJids(all, (entry) => runFork(sendAlone(entry)))
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
      runFork(batch.length === 1 ? sendAlone(batch[0]!) : sendMany(batch))
    }
  }

  const gather = (job: PushableJob): PushResult =>
    Effect.async((resume) => {
      const entry = { job, resume }
      waiting.push(entry)
      if (waiting.length === 1) afterIo(flush)
      return Effect.sync(() => {
        const index = waiting.indexOf(entry)
        if (index !== -1) waiting.splice(index, 1)
      })
    })

  return (job) =>
    Effect.suspend(() =>
      // Nothing in flight: no reply can bring more pushes this turn, so waiting would only
      // add latency (one producer awaiting each push).
      waiting.length === 0 && pool.isIdle() ? sendOne(job) : gather(job)
    )
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

/**
 * The entries whose jid no earlier entry has; each of the others goes to `apart`. Two jobs with
 * one jid in a PUSHB would share one reservation on the server, and its reply, keyed by jid,
 * cannot tell them apart: a later push of a jid goes as a PUSH of its own, as it would have
 * without batching.
 */
const apartRepeatedJids = <T extends { readonly job: PushableJob }>(
  entries: Array<T>,
  apart: (entry: T) => void
): Array<T> => {
  const jids = new Set<string>()
  for (const entry of entries) jids.add(entry.job.jid)
  if (jids.size === entries.length) return entries
  jids.clear()
  const distinct: Array<T> = []
  for (const entry of entries) {
    if (jids.has(entry.job.jid)) {
      apart(entry)
    } else {
      jids.add(entry.job.jid)
      distinct.push(entry)
    }
  }
  return distinct
}

/** Fewest jobs in a command that is split off a turn's batch. */
const spreadAbove = 16


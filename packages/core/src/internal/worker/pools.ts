/**
 * The registry of the worker pools built together: which pool claims which name, wid and
 * queues (refusing a second claim), and the pools' shutdown as one, concurrently.
 *
 * Why a registry held by a layer, not a module-level one keyed by the runtime: Effect has no
 * runtime identity to key on (`Effect.runtime()` makes a new value each time, and one program
 * may run under several), and a registry for the whole Node process would make unrelated
 * programs refuse each other: two tests in one file each running a worker on "default", two
 * `ManagedRuntime`s of an app. A layer is memoized by reference within one build (one
 * `Layer.mergeAll`, one `Effect.provide`, one `ManagedRuntime`), which is what "the pools of
 * this process" means to an application: `Worker.layer` provides one module-level registry
 * layer, so pools built together share it, and it lives exactly as long as they do (no stale
 * claim survives a closed scope).
 *
 * Generic in the worker's service so that this module needs nothing from `Worker.ts`, which
 * imports it.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { PoolConflictError } from "../../Errors.js"

/** What a pool claims as it starts. */
export interface Claim {
  readonly pool: string
  readonly wid: string
  readonly queues: ReadonlyArray<string>
  /** Queues it shares on purpose: an overlap is allowed where both pools list the queue. */
  readonly sharedQueues: ReadonlyArray<string>
}

/** What the registry does with a started pool. */
export interface Stoppable {
  readonly quiet: Effect.Effect<void>
  readonly terminate: Effect.Effect<void>
  readonly terminateNow: Effect.Effect<void>
  readonly awaitStopped: Effect.Effect<void>
}

/** A started pool. */
export interface Pool<W> {
  readonly name: string
  readonly queues: ReadonlyArray<string>
  readonly worker: W
}

/** What applications see of the registry (the `Worker.Pools` service). */
export interface View<W> {
  readonly pools: () => ReadonlyArray<Pool<W>>
  readonly quiet: Effect.Effect<void>
  readonly terminate: Effect.Effect<void>
  readonly terminateNow: Effect.Effect<void>
  readonly awaitAnyStopped: Effect.Effect<void>
}

export interface Registry<W extends Stoppable> {
  /**
   * Claims the pool's name, wid and queues for the life of the scope, or fails naming the
   * pool that holds one of them. The function it returns lists the pool once it has started.
   */
  readonly claim: (claim: Claim) => Effect.Effect<(worker: W) => void, PoolConflictError, Scope.Scope>
  readonly view: View<W>
}

interface Entry<W> {
  readonly claim: Claim
  worker: W | undefined
}

/** The first thing `claim` conflicts with in `held`, if any. */
const conflictOf = (claim: Claim, held: Claim): PoolConflictError | undefined => {
  const conflict = (kind: PoolConflictError["conflict"], value: string) =>
    new PoolConflictError({ conflict: kind, value, pool: claim.pool, otherPool: held.pool })
  // Queues first: two pools left unnamed on the same queues are named alike too, and the
  // queue is what the user has to change.
  const queue = claim.queues.find((queue) =>
    held.queues.includes(queue) && !(claim.sharedQueues.includes(queue) && held.sharedQueues.includes(queue))
  )
  if (queue !== undefined) return conflict("queue", queue)
  if (claim.pool === held.pool) return conflict("name", claim.pool)
  if (claim.wid === held.wid) return conflict("wid", claim.wid)
  return undefined
}

/** An empty registry. */
export const make = <W extends Stoppable>(): Effect.Effect<Registry<W>> =>
  Effect.sync(() => {
    // In claim order. Claims are checked and added in one synchronous step: pools built
    // concurrently (Layer.mergeAll) cannot both pass the check.
    const entries: Array<Entry<W>> = []
    const started = (): ReadonlyArray<Pool<W>> =>
      entries.flatMap(({ claim, worker }) =>
        worker === undefined ? [] : [{ name: claim.pool, queues: claim.queues, worker }]
      )
    const eachStarted = (f: (worker: W) => Effect.Effect<void>) =>
      Effect.suspend(() =>
        Effect.forEach(started(), ({ worker }) => f(worker), { concurrency: "unbounded", discard: true })
      )

    const claim = (claim: Claim) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          for (const entry of entries) {
            const conflict = conflictOf(claim, entry.claim)
            if (conflict !== undefined) return Effect.fail(conflict)
          }
          const entry: Entry<W> = { claim, worker: undefined }
          entries.push(entry)
          return Effect.succeed(entry)
        }),
        (entry) =>
          Effect.sync(() => {
            const index = entries.indexOf(entry)
            if (index !== -1) entries.splice(index, 1)
          })
      ).pipe(Effect.map((entry) => (worker: W) => {
        entry.worker = worker
      }))

    const view: View<W> = {
      pools: started,
      quiet: eachStarted((worker) => worker.quiet),
      // Concurrently: each pool gets the whole of its shutdown timeout, and the process's
      // shutdown lasts as long as the slowest pool's, not the sum.
      terminate: eachStarted((worker) => worker.terminate),
      terminateNow: eachStarted((worker) => worker.terminateNow),
      awaitAnyStopped: Effect.suspend(() => {
        const pools = started()
        return pools.length === 0 ? Effect.void : Effect.raceAll(pools.map(({ worker }) => worker.awaitStopped))
      })
    }
    return { claim, view }
  })

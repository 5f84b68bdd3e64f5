/**
 * Seeded randomness, so that a failing run can be replayed: every scenario that draws at
 * random prints its seed, and `RELIABILITY_SEED=<seed>` runs it again with the same draws.
 * (Timing still differs between runs: the same seed gives the same decisions, in the order the
 * bytes happen to arrive.)
 */
import * as Crypto from "node:crypto"

export interface Random {
  readonly seed: number
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  readonly chance: (probability: number) => boolean
}

/** mulberry32: small, fast, and good enough to spread faults; not for anything secret. */
export const make = (seed: number): Random => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (probability) => next() < probability
  }
}

/** The seed from `RELIABILITY_SEED`, else a fresh one; printed with the scenario's name. */
export const fromEnv = (scenario: string): Random => {
  const given = process.env.RELIABILITY_SEED
  const seed = given !== undefined && given !== "" ? Number(given) >>> 0 : Crypto.randomInt(0, 2 ** 32 - 1)
  console.log(`[${scenario}] seed ${seed} (replay with RELIABILITY_SEED=${seed})`)
  return make(seed)
}

import { describe, expect, it } from "@effect/vitest"
import { Contract } from "@effect-faktory/core"
import { Ajv, type ValidateFunction } from "ajv"
import { Ajv2020 } from "ajv/dist/2020.js"
import addFormats from "ajv-formats"
import { Effect, Either, FastCheck as fc } from "effect"
import { cases, wire } from "./fixtures/contractJobs.js"

// Each definition's contract, judged by a real JSON Schema validator (ajv), against the
// worker's own decoding of the same arguments: random values from the Schema's arbitrary,
// encoded as a push encodes them, and mutations of them (wrong types, missing and extra
// elements and properties, numbers out of range, odd strings). The verdicts must agree, but
// where the contract says it differs: in that direction only.

const RUNS = Number(process.env.CONTRACT_RUNS ?? 500)

/** Three validators: 2020-12 with formats asserted and ignored (Python's default), draft-07. */
const validators = () => {
  const strict2020 = new Ajv2020({ allErrors: false, allowUnionTypes: true, strictTuples: false, strictTypes: false })
  const lax2020 = new Ajv2020({ allErrors: false, allowUnionTypes: true, strictTuples: false, strictTypes: false, validateFormats: false })
  const draft07 = new Ajv({ allErrors: false, allowUnionTypes: true, strictTuples: false, strictTypes: false })
  addFormats.default(strict2020)
  addFormats.default(draft07)
  for (const ajv of [strict2020, lax2020, draft07]) {
    ajv.addKeyword("x-effect-faktory-weaker")
    ajv.addKeyword("x-effect-faktory-stricter")
  }
  return { strict2020, lax2020, draft07 }
}

/** Values unlike what a Schema asks for: the other types, edges of ranges, strings people get wrong. */
const odd: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null, true, false, 0, -1, 1, 1.5, -0.5, 15, 16, 4096, 4097, 150, 151, 1e21, 2 ** 53, 2 ** 60, -(2 ** 60),
    "", " ", "a", "ab", "abc", "abcd", "abcde", "ABC", "@", "a@b", "é", "😀", "😀😀", "😀😀😀", "a😀", "\n", "x\ny",
    "t-x", "user-12", "user-x", "user-", "f_a", "g_a", "+1234567", "+12", "12", " 12 ", "1e3", "NaN", "Infinity", "true",
    "false", "welcome", "receipt", "email", "sms", "a", "b", "12345", "1234", "2024-01-31T09:30:00Z",
    "2024-01-31T09:30:00.123+02:00", "2024-01-31", "Jan 31 2024", "2024-02-30T00:00:00Z", "2023-12-31T23:59:60Z",
    "2024-01-01T24:00:00Z", "2024-01-31t09:30:00z", "00000000-0000-0000-0000-000000000000", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    [], {}, [1], ["a"], { a: 1 }, { type: "email" }, { street: "x", zip: "12345" }
  ),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true })
)

type Path = ReadonlyArray<string | number>

/** Every place in a JSON value, the value itself included. */
const pathsOf = (value: unknown, path: Path = []): Array<Path> => {
  const here = [path]
  if (Array.isArray(value)) return [...here, ...value.flatMap((item, i) => pathsOf(item, [...path, i]))]
  if (typeof value === "object" && value !== null) {
    return [...here, ...Object.entries(value).flatMap(([key, item]) => pathsOf(item, [...path, key]))]
  }
  return here
}

type Mutation = { readonly kind: "replace"; readonly with: unknown } | { readonly kind: "remove" } | {
  readonly kind: "add"
  readonly key: string
  readonly with: unknown
}

/** `value` with one change at `path`. */
const mutate = (value: unknown, path: Path, mutation: Mutation): unknown => {
  const [head, ...rest] = path
  if (head === undefined) {
    if (mutation.kind === "replace") return mutation.with
    if (mutation.kind === "add") {
      if (Array.isArray(value)) return [...value, mutation.with]
      if (typeof value === "object" && value !== null) return { ...value, [mutation.key]: mutation.with }
      return value
    }
    return value
  }
  if (Array.isArray(value) && typeof head === "number") {
    if (rest.length === 0 && mutation.kind === "remove") return value.filter((_, i) => i !== head)
    return value.map((item, i) => (i === head ? mutate(item, rest, mutation) : item))
  }
  if (typeof value === "object" && value !== null && typeof head === "string") {
    const entries = Object.entries(value)
    if (rest.length === 0 && mutation.kind === "remove") return Object.fromEntries(entries.filter(([key]) => key !== head))
    return Object.fromEntries(entries.map(([key, item]) => [key, key === head ? mutate(item, rest, mutation) : item]))
  }
  return value
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: odd.map((value): Mutation => ({ kind: "replace", with: value })) },
  { weight: 2, arbitrary: fc.constant<Mutation>({ kind: "remove" }) },
  {
    weight: 2,
    arbitrary: fc.record({ key: fc.constantFrom("extra", "b", "type", "f_z", "user_id", "limit", "x"), with: odd }).map(
      ({ key, with: value }): Mutation => ({ kind: "add", key, with: value })
    )
  }
)

interface Tally {
  runs: number
  accepted: number
  refused: number
  weaker: number
  stricter: number
  example: { weaker?: unknown; stricter?: unknown }
}

const summary: Array<string> = []

describe("contracts agree with the worker's decoding", () => {
  const { draft07, lax2020, strict2020 } = validators()

  for (const job of cases) {
    const { definition } = job
    const jobtype = definition.jobtype
    it.live(`${jobtype} (${definition.positional ? "positional" : "args[0]"})`, () =>
      Effect.promise(async () => {
        const differences = Either.getOrThrow(Contract.differences(definition))
        const declared = (direction: "weaker" | "stricter") => differences.some((d) => d.direction === direction)
        const compiled: Array<[string, ValidateFunction]> = [
          ["2020-12", strict2020.compile(Either.getOrThrow(Contract.make(definition)))],
          ["2020-12 (formats ignored)", lax2020.compile(Either.getOrThrow(Contract.make(definition)))],
          ["draft-07", draft07.compile(Either.getOrThrow(Contract.make(definition, { draft: "07" })))]
        ]
        const tally: Tally = { runs: 0, accepted: 0, refused: 0, weaker: 0, stricter: 0, example: {} }
        const samples = fc.oneof(
          { weight: 2, arbitrary: job.valid },
          {
            weight: 6,
            arbitrary: job.valid.chain((args) =>
              fc.tuple(fc.constantFrom(...pathsOf(args)), mutation).map(([path, change]) => wire(mutate(args, path, change)))
            )
          },
          { weight: 1, arbitrary: fc.oneof(odd, fc.array(odd, { maxLength: 3 })) }
        )
        await fc.assert(
          fc.asyncProperty(samples, async (args) => {
            const worker = await job.decodes(args)
            const payload = {
              jid: "0123456789abcdef",
              jobtype,
              args,
              queue: definition.options.queue ?? "default",
              retry: 25,
              created_at: "2024-01-31T09:30:00Z"
            }
            tally.runs++
            if (worker) tally.accepted++
            else tally.refused++
            for (const [name, validate] of compiled) {
              const contract = validate(payload)
              if (contract === worker) continue
              const direction = contract ? "weaker" : "stricter"
              tally[direction]++
              tally.example[direction] ??= args
              // A difference the contract does not state is a bug.
              if (!declared(direction)) {
                throw new Error(
                  `${name}: the contract ${contract ? "accepts" : "refuses"} ${JSON.stringify(args)}, which the worker ` +
                    `${worker ? "accepts" : "refuses"}${contract ? "" : `: ${JSON.stringify(validate.errors)}`}`
                )
              }
            }
          }),
          { numRuns: RUNS }
        )
        summary.push(
          `${jobtype.padEnd(12)} ${String(tally.runs).padStart(5)} runs: worker took ${tally.accepted}, refused ${tally.refused}; ` +
            `of ${3 * tally.runs} verdicts, contract weaker in ${tally.weaker}, stricter in ${tally.stricter} (declared: ${
              differences.map((d) => `${d.direction} at ${d.path}`).join(", ") || "none"
            })` +
            (tally.example.weaker === undefined ? "" : `; e.g. weaker on ${JSON.stringify(tally.example.weaker)}`) +
            (tally.example.stricter === undefined ? "" : `; e.g. stricter on ${JSON.stringify(tally.example.stricter)}`)
        )
        // Both verdicts were exercised: the samples are not all valid, nor all refused.
        expect(tally.refused).toBeGreaterThan(0)
        expect(tally.accepted).toBeGreaterThan(0)
      }))
  }

  it("summary", () => {
    console.log(`agreement over ${cases.length} definitions, 3 validators each:\n${summary.join("\n")}`)
    expect(summary.length).toBe(cases.length)
  })
})

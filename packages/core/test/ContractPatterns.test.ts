import { describe, expect, it } from "@effect/vitest"
import { Contract, Job } from "@effect-faktory/core"
import { Ajv2020 } from "ajv/dist/2020.js"
import addFormats from "ajv-formats"
import { Either, Option, Schema, SchemaAST } from "effect"

/**
 * Python's `re` reads `$` (no MULTILINE) as the end of the string or before a line break that
 * ends it: `(?=\n?$)` in JavaScript. Only for the patterns these tests meet, whose `$`s are
 * anchors, never escaped nor in a class.
 */
const pythonDollar = (pattern: string) => pattern.replace(/(?<!\\)\$/g, "(?=\\n?$)")

const validator = (regExp?: (pattern: string) => string) => {
  const ajv = new Ajv2020({
    allErrors: true,
    allowUnionTypes: true,
    strictTuples: false,
    strictTypes: false,
    ...(regExp === undefined ? {} : {
      code: {
        regExp: Object.assign((pattern: string, flags: string) => new RegExp(regExp(pattern), flags), { code: "new RegExp" })
      }
    })
  })
  addFormats.default(ajv)
  ajv.addKeyword("x-effect-faktory-weaker")
  ajv.addKeyword("x-effect-faktory-stricter")
  return ajv
}

const contractOf = (schema: Schema.Schema.AnyNoContext) =>
  Contract.make(Job.define("Check", { args: Schema.Tuple(schema), contract: { weaker: "in these tests" } }))

/** Each sample as the contract judges it (ajv, or ajv reading patterns as Python does) and as the worker decodes it. */
const judgements = (schema: Schema.Schema.AnyNoContext, samples: ReadonlyArray<unknown>, python = false) => {
  const validate = validator(python ? pythonDollar : undefined).compile(Either.getOrThrow(contractOf(schema)))
  const decode = Schema.decodeUnknownEither(schema)
  return samples.map((sample) => ({
    sample,
    contract: validate({ jid: "0123456789abcdef", jobtype: "Check", args: [sample] }),
    worker: Either.isRight(decode(sample))
  }))
}

const disagreements = (schema: Schema.Schema.AnyNoContext, samples: ReadonlyArray<unknown>, python = false) =>
  judgements(schema, samples, python).filter(({ contract, worker }) => contract !== worker)

const jsonAt = (json: unknown, ...path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>((at, key) => (typeof at === "object" && at !== null ? Reflect.get(at, key) : undefined), json)

const caseSamples = ["", "abc", "ABC", "Abc", "aBC", "É", "é", "éa", "Éa", "ß", "Σ", "σ", "ǅ", "İ", "ǈa", "😀", "😀a", "1a", "\u0130x"]

describe("Effect's built-in string filters in a contract", () => {
  it("startsWith, endsWith and includes match their text literally, metacharacters and all", () => {
    expect(disagreements(Schema.String.pipe(Schema.startsWith("v1.")), ["v1.2", "v1x", "v1.", "xv1."])).toEqual([])
    expect(disagreements(Schema.String.pipe(Schema.endsWith("(beta)")), ["x(beta)", "xbeta", "(beta)\n", "a\nb(beta)"])).toEqual([])
    expect(disagreements(Schema.String.pipe(Schema.includes("[")), ["a[b", "ab", "["])).toEqual([])
    expect(disagreements(Schema.String.pipe(Schema.includes("a.b")), ["a.b", "axb", "\na.b\n"])).toEqual([])
  })

  it("endsWith agrees under Python's $ too", () => {
    expect(disagreements(Schema.String.pipe(Schema.endsWith("(beta)")), ["x(beta)", "x(beta)\n"], true)).toEqual([])
  })

  it("Lowercased, Uppercased, Capitalized and Uncapitalized check case as Effect does, beyond ASCII", () => {
    expect(disagreements(Schema.Lowercased, caseSamples)).toEqual([])
    expect(disagreements(Schema.Uppercased, caseSamples)).toEqual([])
    expect(disagreements(Schema.Capitalized, caseSamples)).toEqual([])
    expect(disagreements(Schema.Uncapitalized, caseSamples)).toEqual([])
  })

  it("Trimmed takes JavaScript's white space, without \\s, which other engines read differently", () => {
    const samples = ["a", "", " a", "a ", "\u00a0a", "a\ufeff", "a\n", "\u001ca", "a\u0085", "a\u2028", "a b", "\u000ba"]
    expect(disagreements(Schema.Trimmed, samples)).toEqual([])
    expect(disagreements(Schema.Trimmed, samples, true)).toEqual([])
    const pattern = JSON.stringify(Either.getOrThrow(contractOf(Schema.Trimmed)))
    expect(pattern).not.toContain("\\\\s")
    expect(pattern).not.toContain("\\\\S")
  })

  it("ULID takes lowercase as Effect's case-insensitive check does; UUID as it is", () => {
    const ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    expect(disagreements(Schema.ULID, [ulid, ulid.toLowerCase(), `${ulid}\n`, "01ARZ3NDEKTSV4RRFFQ69G5FAI"])).toEqual([])
    expect(disagreements(Schema.ULID, [ulid, `${ulid}\n`], true)).toEqual([])
    const uuid = "123e4567-e89b-12d3-a456-426614174000"
    expect(disagreements(Schema.UUID, [uuid, uuid.toUpperCase(), `${uuid}\n`], true)).toEqual([])
  })

  it("the patterns this library writes refuse a final line break under Python's $ too (Schema.Date, a job's queue and at)", () => {
    expect(disagreements(Schema.Date, ["2024-01-31T09:30:00Z", "2024-01-31T09:30:00Z\n"], true)).toEqual([])
    const validate = validator(pythonDollar).compile(Either.getOrThrow(contractOf(Schema.String)))
    const base = { jid: "0123456789abcdef", jobtype: "Check", args: ["x"] }
    expect(validate({ ...base, queue: "mail" })).toBe(true)
    expect(validate({ ...base, queue: "mail\n" })).toBe(false)
    expect(validate({ ...base, queue: null })).toBe(true)
    expect(validate({ ...base, at: "2024-01-31T09:30:00Z\n" })).toBe(false)
    expect(validate({ ...base, at: null })).toBe(true)
  })

  it("a template literal's digits are ASCII digits, and it refuses a final line break under Python's $", () => {
    const Ref = Schema.TemplateLiteral("user-", Schema.Number)
    expect(disagreements(Ref, ["user-12", "user-\u0661\u0662", "user-12\n", "user-"], true)).toEqual([])
    expect(JSON.stringify(Either.getOrThrow(contractOf(Ref)))).not.toContain("\\\\d")
  })

  it("a pattern that does not compile as JSON Schema reads it (ECMA-262 with u) is refused, naming it", () => {
    const refused = contractOf(Schema.String.pipe(Schema.pattern(new RegExp("^a\\-b$"))))
    expect(Either.isLeft(refused)).toBe(true)
    if (Either.isLeft(refused)) expect(refused.left.message).toContain("^a\\-b$")
    const annotated = Schema.String.pipe(Schema.filter(() => true, { jsonSchema: { pattern: "(" } }))
    expect(Either.isLeft(contractOf(annotated))).toBe(true)
  })
})

describe("Effect 3's jsonSchema annotations that contracts rely on (a new Effect that changes one fails here)", () => {
  const annotation = (schema: Schema.Schema.Any) => Option.getOrUndefined(SchemaAST.getJSONSchemaAnnotation(schema.ast))
  it.each([
    ["maxLength", Schema.String.pipe(Schema.maxLength(3)), { maxLength: 3 }],
    ["minLength", Schema.String.pipe(Schema.minLength(2)), { minLength: 2 }],
    ["length", Schema.String.pipe(Schema.length(2)), { minLength: 2, maxLength: 2 }],
    ["length range", Schema.String.pipe(Schema.length({ min: 1, max: 3 })), { minLength: 1, maxLength: 3 }],
    ["pattern", Schema.String.pipe(Schema.pattern(/^a+$/)), { pattern: "^a+$" }],
    ["startsWith (rewritten)", Schema.String.pipe(Schema.startsWith("a")), { pattern: "^a" }],
    ["endsWith (rewritten)", Schema.String.pipe(Schema.endsWith("a")), { pattern: "^.*a$" }],
    ["includes (rewritten)", Schema.String.pipe(Schema.includes("a")), { pattern: ".*a.*" }],
    ["Trimmed (rewritten)", Schema.Trimmed, { pattern: "^\\S[\\s\\S]*\\S$|^\\S$|^$" }],
    ["Lowercased (rewritten)", Schema.Lowercased, { pattern: "^[^A-Z]*$" }],
    ["Uppercased (rewritten)", Schema.Uppercased, { pattern: "^[^a-z]*$" }],
    ["Capitalized (rewritten)", Schema.Capitalized, { pattern: "^[^a-z]?.*$" }],
    ["Uncapitalized (rewritten)", Schema.Uncapitalized, { pattern: "^[^A-Z]?.*$" }],
    ["UUID", Schema.UUID, { format: "uuid", pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" }],
    ["ULID (rewritten)", Schema.ULID, { pattern: "^[0-7][0-9A-HJKMNP-TV-Z]{25}$" }],
    ["Int", Schema.Int, { type: "integer" }],
    ["finite", Schema.Finite, {}],
    ["greaterThan", Schema.Number.pipe(Schema.greaterThan(1)), { exclusiveMinimum: 1 }],
    ["greaterThanOrEqualTo", Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), { minimum: 1 }],
    ["lessThan", Schema.Number.pipe(Schema.lessThan(1)), { exclusiveMaximum: 1 }],
    ["lessThanOrEqualTo", Schema.Number.pipe(Schema.lessThanOrEqualTo(1)), { maximum: 1 }],
    ["between", Schema.Number.pipe(Schema.between(1, 2)), { minimum: 1, maximum: 2 }],
    ["multipleOf", Schema.Number.pipe(Schema.multipleOf(-3)), { multipleOf: 3 }],
    ["minItems", Schema.Array(Schema.String).pipe(Schema.minItems(1)), { minItems: 1 }],
    ["maxItems", Schema.Array(Schema.String).pipe(Schema.maxItems(2)), { maxItems: 2 }],
    ["itemsCount", Schema.Array(Schema.String).pipe(Schema.itemsCount(2)), { minItems: 2, maxItems: 2 }]
  ])("%s", (_, schema, expected) => {
    expect(annotation(schema)).toEqual(expected)
  })
})

describe("the server's integers in a contract", () => {
  it("Go's int64 bounds as the doubles inside them (±9223372036854774784), which print within int64 too", () => {
    const contract = Either.getOrThrow(contractOf(Schema.String))
    const retry = jsonAt(contract, "properties", "retry")
    expect(retry).toMatchObject({ minimum: -9223372036854774784, maximum: 9223372036854774784 })
    expect(JSON.stringify(contract)).not.toContain("9223372036854776000")
  })
})

describe("Contract.asyncApi components", () => {
  it("a Schema shared by several jobs is one component", () => {
    const A = Job.define("A", { args: Schema.Tuple(Schema.Date) })
    const B = Job.define("B", { args: Schema.Struct({ at: Schema.Date }) })
    const spec = Either.getOrThrow(Contract.asyncApi([A, B]))
    expect(Object.keys(jsonAt(spec, "components", "schemas") ?? {})).toEqual(["Date"])
  })
})

import { describe, expect, it } from "@effect/vitest"
import { Contract, Job, JobHandler, JobPayload, JobRunner } from "@effect-faktory/core"
import asyncApiSpecs from "@asyncapi/specs"
import { Ajv } from "ajv"
import { Ajv2020 } from "ajv/dist/2020.js"
import addFormats from "ajv-formats"
import { Effect, Either, FastCheck as fc, Layer, Option, ParseResult, Schema } from "effect"

const ajv2020 = () => {
  const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true, strictTuples: false, strictTypes: false })
  addFormats.default(ajv)
  ajv.addKeyword("x-effect-faktory-weaker")
  ajv.addKeyword("x-effect-faktory-stricter")
  return ajv
}

const refusal = (result: Either.Either<unknown, Contract.ContractError>): Contract.ContractError => {
  if (Either.isRight(result)) throw new Error("expected a ContractError")
  return result.left
}

const jsonAt = (json: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>((at, key) => (typeof at === "object" && at !== null ? Reflect.get(at, key) : undefined), json)

const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "mail", retry: 5 })
const ResizeImage = Job.define("ResizeImage", {
  args: Schema.Struct({ file: Schema.String, width: Schema.Int.pipe(Schema.between(16, 4096)) })
})

const job = (jobtype: string, args: unknown, extra: Record<string, unknown> = {}) => ({
  jid: "0123456789abcdef",
  jobtype,
  args,
  ...extra
})

describe("Contract.make", () => {
  it("the README's SendEmail: a fixed-length args array, the jobtype, its queue and retry as defaults", () => {
    const contract = Either.getOrThrow(Contract.make(SendEmail))
    expect(contract.$schema).toBe("https://json-schema.org/draft/2020-12/schema")
    expect(contract.required).toEqual(["jid", "jobtype", "args"])
    expect(jsonAt(contract, "properties", "args")).toEqual({
      type: "array",
      minItems: 2,
      prefixItems: [{ type: "string" }, { type: "number" }],
      items: false
    })
    expect(jsonAt(contract, "properties", "jobtype")).toEqual({ const: "SendEmail" })
    expect(jsonAt(contract, "properties", "queue", "default")).toBe("mail")
    expect(jsonAt(contract, "properties", "retry", "default")).toBe(5)
    expect(jsonAt(contract, "properties", "reserve_for", "default")).toBe(1800)
    const validate = ajv2020().compile(contract)
    expect(validate(job("SendEmail", ["a@example.com", 3], { queue: "mail", retry: 5 }))).toBe(true)
    expect(validate(job("SendEmail", ["a@example.com", "3"]))).toBe(false)
    expect(validate(job("SendEmail", ["a@example.com"]))).toBe(false)
    expect(validate(job("SendEmail", ["a@example.com", 3, 4]))).toBe(false)
    expect(validate(job("ResizeImage", ["a@example.com", 3]))).toBe(false)
    expect(validate({ jobtype: "SendEmail", args: ["a@example.com", 3] })).toBe(false)
  })

  it("a struct travels as args[0]; Schema.Int is a safe integer; extra properties pass, as the worker ignores them", () => {
    const validate = ajv2020().compile(Either.getOrThrow(Contract.make(ResizeImage)))
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 640 }]))).toBe(true)
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 640, quality: 9 }]))).toBe(true)
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 64.5 }]))).toBe(false)
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 5000 }]))).toBe(false)
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 640 }, 1]))).toBe(false)
    const big = ajv2020().compile(Either.getOrThrow(Contract.make(Job.define("Big", { args: Schema.Tuple(Schema.Int) }))))
    expect(big(job("Big", [2 ** 53 - 1]))).toBe(true)
    expect(big(job("Big", [2 ** 60]))).toBe(false)
  })

  it("draft-07: items as an array, definitions, and a $ref's sibling keywords kept in an allOf (draft-07 ignores them)", () => {
    const contract = Either.getOrThrow(Contract.make(ResizeImage, { draft: "07" }))
    expect(contract.$schema).toBe("http://json-schema.org/draft-07/schema#")
    expect(contract.$defs).toBeUndefined()
    expect(jsonAt(contract, "definitions", "Int", "type")).toBe("integer")
    const width = jsonAt(contract, "properties", "args", "items", 0, "properties", "width")
    expect(width).toMatchObject({ minimum: 16, maximum: 4096, allOf: [{ $ref: "#/definitions/Int" }] })
    expect(jsonAt(contract, "properties", "args", "additionalItems")).toBe(false)
    const ajv = new Ajv({ allowUnionTypes: true, strictTypes: false })
    const validate = ajv.compile(contract)
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 640 }]))).toBe(true)
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 3 }]))).toBe(false)
  })

  it("a filter without a jsonSchema annotation, a transformation that may refuse, a check on a decoded value: refused, by jobtype and path", () => {
    const Charge = Job.define("Charge", {
      args: Schema.Struct({
        email: Schema.String.pipe(Schema.filter((text) => text.includes("@"))),
        amount: Schema.NumberFromString,
        cents: Schema.NumberFromString.pipe(Schema.int())
      })
    })
    const error = refusal(Contract.make(Charge))
    expect(error.reason).toBe("Inexpressible")
    expect(error.jobtype).toBe("Charge")
    expect(error.message).toMatch(/^Charge: its contract would be weaker than the worker at /)
    expect(error.message).toContain("args[0].email: a filter with no JSON Schema counterpart ({ string | filter })")
    expect(error.message).toContain("args[0].amount: a transformation (NumberFromString)")
    expect(error.message).toContain("args[0].cents: a check on the decoded value")
    expect(error.message).toContain(
      `annotate each with a jsonSchema annotation that says its type (or, for a transformation that refuses nothing, ` +
        `Contract.totalDecoding), or accept the loss with Job.define("Charge", { …, contract: { weaker: "why" } })`
    )
  })

  it("a transformation said to refuse nothing (Contract.totalDecoding) has its encoded side's schema, exactly", () => {
    const Annotate = Job.define("Annotate", {
      args: Schema.Tuple(Contract.totalDecoding(Schema.OptionFromNullOr(Schema.String)))
    })
    expect(Either.getOrThrow(Contract.differences(Annotate))).toEqual([])
    expect(jsonAt(Either.getOrThrow(Contract.make(Annotate)), "properties", "args", "prefixItems", 0)).toEqual({
      anyOf: [{ type: "string" }, { type: "null" }]
    })
    expect(refusal(Contract.make(Job.define("Plain", { args: Schema.Tuple(Schema.OptionFromNullOr(Schema.String)) }))).message)
      .toContain("args[0]: a transformation ((string | null <-> Option<string>))")
  })

  it("an accepted loss: the contract says where it is weaker, with the reason, at the place and for the job", () => {
    const Charge = Job.define("Charge", {
      args: Schema.Struct({ email: Schema.String.pipe(Schema.filter((text) => text.includes("@"))) }),
      contract: { weaker: "the mailer checks addresses" }
    })
    const contract = Either.getOrThrow(Contract.make(Charge))
    expect(jsonAt(contract, "properties", "args", "prefixItems", 0, "properties", "email")).toEqual({
      type: "string",
      "x-effect-faktory-weaker": "a filter with no JSON Schema counterpart ({ string | filter })"
    })
    expect(contract["x-effect-faktory-weaker"]).toEqual([{
      path: "args[0].email",
      what: "a filter with no JSON Schema counterpart ({ string | filter })",
      reason: "the mailer checks addresses (it has no jsonSchema annotation)"
    }])
    expect(contract.description).toContain("Weaker than the worker at args[0].email")
  })

  it("a filter annotated with its JSON Schema, or a declared type with one, is taken at its word", () => {
    const Mail = Job.define("Mail", {
      args: Schema.Tuple(
        Schema.String.pipe(Schema.filter((text) => /^[^@]+@[^@]+$/.test(text), { jsonSchema: { pattern: "^[^@]+@[^@]+$" } })),
        Schema.declare((value): value is string => typeof value === "string", { jsonSchema: { type: "string" } })
      )
    })
    expect(Either.getOrThrow(Contract.differences(Mail))).toEqual([])
    expect(jsonAt(Either.getOrThrow(Contract.make(Mail)), "properties", "args", "prefixItems", 0)).toEqual({
      type: "string",
      pattern: "^[^@]+@[^@]+$"
    })
  })

  it("what JSON cannot carry or JSON Schema cannot name is refused, whatever the definition accepts", () => {
    const weaker = { contract: { weaker: "whatever" } }
    const message = (args: Schema.Schema.AnyNoContext) => refusal(Contract.make(Job.define("J", { args, ...weaker }))).message
    expect(message(Schema.Tuple(Schema.String, Schema.DateFromSelf))).toBe(
      "J: cannot be said in JSON: args[1]: a Date (DateFromSelf) (JSON cannot carry a Date (a push refuses it): use " +
        "Schema.Date, an ISO string on the wire)"
    )
    expect(message(Schema.Tuple(Schema.BigIntFromSelf))).toContain("args[0]: a bigint (JSON cannot carry a bigint: use Schema.BigInt")
    interface Tree {
      readonly children: ReadonlyArray<Tree>
    }
    const Tree = Schema.Struct({ children: Schema.Array(Schema.suspend((): Schema.Schema<Tree> => Tree)) })
    expect(message(Schema.Tuple(Tree))).toContain("args[0].children[*]: a recursive Schema")
    expect(message(Schema.Tuple(Tree))).toContain("give it an identifier annotation")
    const A = Schema.Struct({ a: Schema.String }).annotations({ identifier: "Item" })
    const B = Schema.Struct({ b: Schema.Number }).annotations({ identifier: "Item" })
    expect(message(Schema.Tuple(A, B))).toContain(`two different Schemas are named "Item"`)
  })

  it("a pattern's flags are a loss; Schema.Date is a stated difference (stricter); lengths state how they count", () => {
    const Flags = Job.define("Flags", { args: Schema.Tuple(Schema.String.pipe(Schema.pattern(/^abc$/i))) })
    expect(refusal(Contract.make(Flags)).message).toContain("args[0]: the pattern")
    const Remind = Job.define("Remind", { args: Schema.Struct({ at: Schema.Date, note: Schema.String.pipe(Schema.maxLength(140)) }) })
    const differences = Either.getOrThrow(Contract.differences(Remind))
    expect(differences.map(({ direction, path }) => [path, direction])).toEqual([["args[0].at", "stricter"], [
      "args[0].note",
      "weaker"
    ]])
    const validate = ajv2020().compile(Either.getOrThrow(Contract.make(Remind)))
    expect(validate(job("Remind", [{ at: "2024-01-31T09:30:00.000Z", note: "x" }]))).toBe(true)
    expect(validate(job("Remind", [{ at: "2024-01-31", note: "x" }]))).toBe(false)
    expect(validate(job("Remind", [{ at: "soon", note: "x" }]))).toBe(false)
  })

  it("defaults no push could use are refused", () => {
    expect(refusal(Contract.make(Job.define("Q", { args: Schema.Tuple(), queue: "no spaces" }))).message).toBe(
      `Q: its queue "no spaces" is no queue name the server takes (^[a-zA-Z0-9._-]+$)`
    )
    expect(refusal(Contract.make(Job.define("R", { args: Schema.Tuple(), reserveFor: 30 }))).reason).toBe("InvalidDefinition")
  })

  it.effect("a handler registered without its definition has no contract; one from Job.define carries it", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Layer.merge(
          SendEmail.handle(() => Effect.void),
          JobHandler.layer({
            jobtype: "Raw",
            decodeSync: Schema.decodeUnknownEither(Schema.Tuple()),
            decode: Schema.decodeUnknown(Schema.Tuple()),
            handler: () => Effect.void,
            guardReservation: true
          })
        )
      )
      const handlers = JobHandler.all(context)
      expect(handlers.map((handler) => handler.jobtype).sort()).toEqual(["Raw", "SendEmail"])
      const sendEmail = handlers.find((handler) => handler.jobtype === "SendEmail")!
      expect(Either.getOrThrow(Contract.make(sendEmail))).toEqual(Either.getOrThrow(Contract.make(SendEmail)))
      const error = refusal(Contract.document(handlers))
      expect(error.reason).toBe("NoDefinition")
      expect(error.message).toMatch(/^Raw: its handler was registered without a job definition/)
    }).pipe(Effect.scoped))
})

describe("Contract.document", () => {
  it("one JSON Schema for many jobtypes: a job is checked against its own jobtype's contract; others are refused", () => {
    const document = Either.getOrThrow(Contract.document([SendEmail, ResizeImage]))
    const ajv = ajv2020()
    const validate = ajv.compile(document)
    expect(validate(job("SendEmail", ["a@example.com", 3]))).toBe(true)
    expect(validate(job("ResizeImage", [{ file: "a.jpg", width: 640 }]))).toBe(true)
    expect(validate(job("SendEmail", [{ file: "a.jpg", width: 640 }]))).toBe(false)
    // The errors name the jobtype's own contract, not every alternative.
    expect(validate.errors?.every((error) => error.schemaPath.startsWith("#/allOf/0/"))).toBe(true)
    expect(validate(job("Mystery", []))).toBe(false)
    expect(validate.errors?.[0]?.instancePath).toBe("/jobtype")
  })

  it("a jobtype defined twice: once if both say the same, refused if their Schemas or defaults differ", () => {
    const Again = Job.define("SendEmail", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "mail", retry: 5 })
    const document = Either.getOrThrow(Contract.document([SendEmail, Again]))
    expect(jsonAt(document, "properties", "jobtype", "enum")).toEqual(["SendEmail"])
    const Other = Job.define("SendEmail", { args: Schema.Tuple(Schema.String), queue: "mail", retry: 5 })
    const error = refusal(Contract.document([SendEmail, Other]))
    expect(error.reason).toBe("DefinedTwice")
    expect(error.message).toBe(
      "SendEmail: it is defined twice with different argument Schemas: define each jobtype once, and share the definition"
    )
    const Elsewhere = Job.define("SendEmail", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "bulk", retry: 5 })
    expect(refusal(Contract.document([SendEmail, Elsewhere])).message).toContain("different defaults (queue)")
    expect(refusal(Contract.document([])).reason).toBe("NoJobs")
  })

  it("definitions of one name that differ between jobs get names of their own", () => {
    const A = Job.define("A", { args: Schema.Tuple(Schema.Struct({ a: Schema.String }).annotations({ identifier: "Item" })) })
    const B = Job.define("B", { args: Schema.Tuple(Schema.Struct({ b: Schema.Number }).annotations({ identifier: "Item" })) })
    const document = Either.getOrThrow(Contract.document([A, B]))
    expect(Object.keys(jsonAt(document, "$defs") ?? {})).toEqual(["Item", "Item_2"])
    expect(jsonAt(document, "allOf", 1, "then", "properties", "args", "prefixItems", 0)).toEqual({ $ref: "#/$defs/Item_2" })
    const validate = ajv2020().compile(document)
    expect(validate(job("A", [{ a: "x" }]))).toBe(true)
    expect(validate(job("B", [{ b: 1 }]))).toBe(true)
    expect(validate(job("B", [{ b: "x" }]))).toBe(false)
  })
})

describe("Contract.document and asyncApi, with several jobtypes that have no contract", () => {
  it("name each of them, not only the first", () => {
    const A = Job.define("A", { args: Schema.Tuple(Schema.NumberFromString) })
    const B = Job.define("B", { args: Schema.Tuple(Schema.DateFromSelf) })
    for (const made of [Contract.document([A, SendEmail, B]), Contract.asyncApi([A, SendEmail, B])]) {
      const error = refusal(made)
      expect(error.reason).toBe("Inexpressible")
      expect(error.jobtype).toBeUndefined()
      expect(error.message).toMatch(/^2 jobtypes have no contract: A: its contract would be weaker .*; B: cannot be said in JSON: /)
    }
    expect(refusal(Contract.document([A, SendEmail])).message).toMatch(/^A: its contract would be weaker/)
  })
})

describe("Contract.asyncApi", () => {
  it("an AsyncAPI 3.0.0 document that the official schema accepts: channels per queue, messages per jobtype", () => {
    const Ruby = Job.define("Mailer::Deliver", { args: Schema.Tuple(Schema.String), queue: "mail" })
    const spec = Either.getOrThrow(Contract.asyncApi([SendEmail, ResizeImage, Ruby], { title: "Mailer", version: "2.1.0" }))
    // The AsyncAPI schema carries its own copy of draft-07's meta-schema.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, meta: false, validateSchema: false })
    const validate = ajv.compile(JSON.parse(JSON.stringify(asyncApiSpecs.schemas["3.0.0"])))
    expect(validate(spec), JSON.stringify(validate.errors, null, 2)).toBe(true)
    expect(spec.asyncapi).toBe("3.0.0")
    expect(Object.keys(jsonAt(spec, "channels") ?? {})).toEqual(["mail", "default"])
    expect(jsonAt(spec, "channels", "mail", "address")).toBe("mail")
    expect(Object.keys(jsonAt(spec, "channels", "mail", "messages") ?? {})).toEqual(["SendEmail", "Mailer__Deliver"])
    expect(jsonAt(spec, "components", "messages", "Mailer__Deliver", "name")).toBe("Mailer::Deliver")
    expect(jsonAt(spec, "operations", "receive.mail", "action")).toBe("receive")
    // Every $ref points at something in the document.
    const refs: Array<string> = []
    const collect = (json: unknown) => {
      if (Array.isArray(json)) json.forEach(collect)
      else if (typeof json === "object" && json !== null) {
        for (const [key, value] of Object.entries(json)) {
          if (key === "$ref" && typeof value === "string") refs.push(value)
          else collect(value)
        }
      }
    }
    collect(spec)
    expect(refs.length).toBeGreaterThan(5)
    for (const ref of refs) {
      const path = ref.slice(2).split("/").map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
      expect(jsonAt(spec, ...path), ref).toBeDefined()
    }
    // A payload is the job's contract, as draft-07.
    const payload = jsonAt(spec, "components", "messages", "ResizeImage", "payload")
    const schemas = jsonAt(spec, "components", "schemas")
    const check = new Ajv({ strict: false }).compile({
      ...(payload as object),
      components: { schemas }
    })
    expect(check(job("ResizeImage", [{ file: "a.jpg", width: 640 }]))).toBe(true)
    expect(check(job("ResizeImage", [{ file: "a.jpg", width: 1 }]))).toBe(false)
  })
})

describe("the job's fields: the contract agrees with the server", () => {
  // What the contract says of jid, queue, retry, reserve_for, at… against JobPayload.serverRefusal
  // (the server's rules), the arguments valid. Its stated gaps: a jid of fewer than 8
  // characters that is 8 bytes or more (the contract counts characters), and an `at` on a day
  // its month lacks (a pattern cannot know the calendar).
  const validate = ajv2020().compile(Either.getOrThrow(Contract.make(SendEmail)))
  const field = <A>(values: fc.Arbitrary<A>) => fc.option(values, { nil: undefined, freq: 3 })
  const odd = fc.constantFrom<unknown>(null, "", "x", 1, -1, 0, 1.5, true, [], {}, 86400, 86401, 2 ** 63, "2024-01-31T09:30:00Z")
  const jobs = fc.record({
    jid: fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 10 }), odd),
    queue: field(fc.oneof(fc.constantFrom("mail", "", "a b", "a/b", "x.y-z_1", "é"), odd)),
    retry: field(fc.oneof(fc.integer({ min: -2, max: 30 }), odd)),
    reserve_for: field(fc.oneof(fc.integer({ min: 0, max: 100_000 }), odd)),
    backtrace: field(fc.oneof(fc.integer({ min: -1, max: 50 }), odd)),
    at: field(fc.oneof(
      fc.constantFrom("", "2024-01-31T09:30:00Z", "2024-01-31T09:30:00.123456789+02:00", "2024-01-31T09:30:00.1234567890Z",
        "2024-02-30T00:00:00Z", "2024-01-31", "2024-01-31T24:00:00Z", "2024-01-31t09:30:00z", "2024-01-31T09:30:00+24:00"),
      fc.date({ noInvalidDate: true, min: new Date("0001-01-01"), max: new Date("9999-12-31") }).map((date) => date.toISOString()),
      odd
    )),
    created_at: field(fc.oneof(fc.string(), odd)),
    custom: field(fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), odd))
  }, { requiredKeys: [] })

  it("agree, but for the stated gaps", () => {
    let agreed = 0
    fc.assert(
      fc.property(jobs, (fields) => {
        const payload = { ...fields, jobtype: "SendEmail", args: ["a@example.com", 3] }
        const contract = validate(payload)
        const server = JobPayload.serverRefusal(payload) === undefined
        if (contract === server) return void agreed++
        const { at, jid } = fields
        const shortJid = typeof jid === "string" && [...jid].length < 8 && new TextEncoder().encode(jid).length >= 8
        const impossibleDay = typeof at === "string" && /^\d{4}-(02-(29|30|31)|(04|06|09|11)-31)/.test(at)
        expect(!contract && shortJid || contract && impossibleDay, `contract ${contract}, server ${server}: ${JSON.stringify(payload)}`)
          .toBe(true)
      }),
      { numRuns: 2000 }
    )
    expect(agreed).toBeGreaterThan(1500)
  })
})

describe("JobRunner.check", () => {
  const Shouted = Schema.transformOrFail(Schema.String, Schema.String, {
    decode: (text) => text === "" ? ParseResult.fail(new ParseResult.Type(Schema.String.ast, text, "empty")) : ParseResult.succeed(text),
    encode: ParseResult.succeed
  })
  const Loud = Job.define("Loud", { args: Schema.Tuple(Shouted) })

  it.effect("says what the server, the lack of a handler or the arguments' Schema would refuse", () =>
    Effect.gen(function*() {
      const handlers = yield* JobHandler.collect(yield* Effect.context<never>())
      const check = (payload: unknown) => JobRunner.check(handlers, payload).pipe(Effect.map(Option.getOrUndefined))
      expect(yield* check(job("SendEmail", ["a@example.com", 3]))).toBeUndefined()
      expect(yield* check(job("SendEmail", ["a@example.com", "3"]))).toEqual({
        errtype: "InvalidArguments",
        message: `invalid arguments for SendEmail: 1: Expected number, actual "3"`
      })
      expect(yield* check(job("Loud", [""]))).toEqual({ errtype: "InvalidArguments", message: "invalid arguments for Loud: 0: empty" })
      expect(yield* check(job("Mystery", []))).toEqual({ errtype: "UnknownJobType", message: "no handler for jobtype Mystery" })
      expect(yield* check({ jid: "short", jobtype: "SendEmail", args: [] })).toEqual({
        errtype: "RefusedByServer",
        message: "jobs must have a reasonable jid parameter"
      })
      expect(yield* check(job("SendEmail", ["a", 1], { retry: 1.5 }))).toEqual({
        errtype: "RefusedByServer",
        message: "retry must be an integer, not 1.5 (the server cannot decode the job)"
      })
      expect(yield* check([1])).toEqual({ errtype: "RefusedByServer", message: "a job must be a JSON object, not an array" })
    }).pipe(Effect.provide(Layer.merge(SendEmail.handle(() => Effect.void), Loud.handle(() => Effect.void)))))
})

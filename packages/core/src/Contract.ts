/**
 * Job contracts: what each jobtype's jobs must look like on the wire, as JSON Schema and as
 * an AsyncAPI 3 document, so that producers in any language can check a job before they push
 * it. Made from the job definitions (`Job.define`), or from the handlers a worker serves.
 *
 * A contract is the JSON Schema of the job as Faktory carries it: `jid`, `jobtype` (a
 * constant), `args` (a tuple Schema as the array itself, any other Schema as `args[0]`, from
 * the encoded side of the definition's Schema), and the server's fields with the definition's
 * defaults (`queue`, `retry`, `reserve_for`).
 *
 * A contract is never silently weaker than the worker. A part of a Schema that JSON Schema
 * cannot say (a filter without a `jsonSchema` annotation, a declared type, a transformation
 * whose decoding may refuse a value) fails with a `ContractError` naming the jobtype and the
 * path, unless the definition accepts the loss (`contract: { weaker: "why" }`); the contract
 * then says where it is weaker (`x-effect-faktory-weaker`). Where it is stricter than the
 * worker (a `Schema.Date` asks for RFC 3339 times, the worker reads any date JavaScript
 * reads), it says so too (`x-effect-faktory-stricter`).
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as JobHandler from "./JobHandler.js"
import * as Pattern from "./internal/job/pattern.js"
import { DEFAULT_RETRY } from "./JobPayload.js"

/**
 * A JSON value.
 *
 * @since 0.2.0
 * @category models
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | JsonObject

/**
 * A JSON object: a schema or a document.
 *
 * @since 0.2.0
 * @category models
 */
export interface JsonObject {
  readonly [key: string]: Json
}

/**
 * The JSON Schema dialect of a contract: 2020-12 (the default), or draft-07, which many
 * validators in other languages still speak alone.
 *
 * @since 0.2.0
 * @category models
 */
export type Draft = "2020-12" | "07"

/**
 * What a contract is made from: a job definition (`Job.define(…)`), or a handler registered
 * by one (`JobHandler.all(context)`).
 *
 * @since 0.2.0
 * @category models
 */
export type Source = JobHandler.Definition | JobHandler.JobHandler

/**
 * A place where a contract and the worker judge a job differently: `weaker` (the contract
 * lets through what the worker refuses: the definition accepted it) or `stricter` (it
 * refuses what the worker would take).
 *
 * @since 0.2.0
 * @category models
 */
export interface Difference {
  readonly jobtype: string
  /** Where in the job: `args[0].email`. */
  readonly path: string
  readonly direction: "weaker" | "stricter"
  /** The part of the Schema, and what the contract says instead. */
  readonly what: string
  /** Why: the definition's words for an accepted loss, this library's otherwise. */
  readonly reason: string
}

/**
 * A contract cannot be made: a part of a Schema JSON Schema cannot say
 * (`Inexpressible`), a jobtype defined twice with different Schemas (`DefinedTwice`), no
 * job definition at all (`NoJobs`), a handler registered without its definition
 * (`NoDefinition`), or defaults no push could use (`InvalidDefinition`).
 *
 * @example
 * ```ts
 * import { Contract } from "@effect-faktory/core"
 *
 * new Contract.ContractError({ reason: "NoJobs", detail: "no job definitions" }).message // "no job definitions"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class ContractError extends Schema.TaggedError<ContractError>()("ContractError", {
  reason: Schema.Literal("Inexpressible", "DefinedTwice", "NoJobs", "NoDefinition", "InvalidDefinition"),
  jobtype: Schema.optional(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    return this.jobtype === undefined ? this.detail : `${this.jobtype}: ${this.detail}`
  }
}

/**
 * The options of `make` and `document`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The JSON Schema dialect; 2020-12 when unset. */
  readonly draft?: Draft | undefined
}

/**
 * The options of `asyncApi`: what its `info` says.
 *
 * @since 0.2.0
 * @category models
 */
export interface AsyncApiOptions {
  /** Default: "Faktory jobs". */
  readonly title?: string | undefined
  /** The version of the application the document describes; default: "1.0.0". */
  readonly version?: string | undefined
  readonly description?: string | undefined
}

/**
 * The annotation of `totalDecoding`.
 *
 * @since 0.2.0
 * @category annotations
 */
export const TotalDecodingAnnotationId: unique symbol = Symbol.for("@effect-faktory/core/Contract/TotalDecoding")

/**
 * Says that a transformation's decoding takes every value its encoded side takes, so that
 * its contract, the encoded side's JSON Schema, is exact. A contract cannot see into a
 * transformation's code: it trusts Effect's own that are known to (`Schema.Trim`,
 * `Schema.DateFromNumber`, a `Schema.Class`, a Struct's optional and renamed fields, …) and
 * refuses the others (`Schema.NumberFromString` refuses "abc") unless told so.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { Contract, Job } from "@effect-faktory/core"
 *
 * // null or a string: nothing refused on the way to an Option.
 * const Note = Contract.totalDecoding(Schema.OptionFromNullOr(Schema.String))
 * const Annotate = Job.define("Annotate", { args: Schema.Tuple(Schema.String, Note) })
 * Contract.differences(Annotate) // Either.right([])
 * ```
 *
 * @since 0.2.0
 * @category annotations
 */
export const totalDecoding = <A, I, R>(schema: Schema.Schema<A, I, R>): Schema.Schema<A, I, R> =>
  schema.annotations({ [TotalDecodingAnnotationId]: true })

/** The keyword marking where a contract is weaker than the worker, with what and why. */
const WEAKER = "x-effect-faktory-weaker"
/** The keyword marking where a contract is stricter than the worker. */
const STRICTER = "x-effect-faktory-stricter"

/** The queue-name rule of the server (`JobPayload.QueueName`), as JSON Schema writes it. */
const QUEUE_PATTERN = "^[a-zA-Z0-9._-]+$"
/**
 * The server decodes its integers into Go's 64-bit int. The bounds are the doubles closest to
 * ±2^63 inside it (2^63 - 1024): JavaScript prints ±2^63 as ±9223372036854776000, outside
 * int64, which a validator that reads its numbers exactly (Python's) would take as the bound.
 */
const GO_INT = { minimum: -9223372036854774784, maximum: 9223372036854774784 } as const

/** What a job's `queue` may be: a queue name, or empty for `default`. */
const JOB_QUEUE_PATTERN = "^[a-zA-Z0-9._-]*$"

/**
 * A nullable string that ends in a line break: refused beside each pattern of this library
 * that ends in `$`, which Python's `re` also matches before a final line break.
 */
const NO_FINAL_LINE_BREAK = { not: { type: "string", pattern: Pattern.FINAL_LINE_BREAK } } as const

/**
 * The prefix of internal keywords (one per kind of check, as `${NOT_PATTERN}trimmed`) whose
 * value is a pattern the string must not match: `toJson` writes each as `allOf: [{ not: {
 * pattern } }]`. One keyword per kind, as Effect merges the jsonSchema annotations of stacked
 * filters into one object, where a second `not` would replace the first; the same kind always
 * has the same pattern.
 */
const NOT_PATTERN = "effect-faktory/not-pattern/"

/** Effect's pattern for `Schema.ULID`, which it checks case-insensitively (`/…/i`). */
const EFFECT_ULID_PATTERN = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"

/** Effect's pattern for `Schema.Trimmed`, whose `\s` and `$` other engines read differently. */
const EFFECT_TRIMMED_PATTERN = "^\\S[\\s\\S]*\\S$|^\\S$|^$"

/** A lone surrogate, which a pattern read with `u` never matches alone. */
const LONE_SURROGATE = /\p{Cs}/u

/**
 * What the contract says for one of Effect's string filters whose own jsonSchema annotation
 * is not exact: its exact JSON Schema (`jsonSchema`), or why there is none (`inexpressible`).
 * Undefined for any other filter, and for a filter whose annotation is not Effect's own (its
 * author wrote one, taken at its word).
 */
const builtInStringFilter = (
  ast: SchemaAST.Refinement,
  annotation: object
): { readonly jsonSchema: Record<string, unknown> } | { readonly inexpressible: string } | undefined => {
  const isEffects = (effects: object) => JSON.stringify(annotation) === JSON.stringify(effects)
  const argument = (id: symbol, field: string): string | undefined => {
    const value: unknown = ast.annotations[id]
    return isRecord(value) && typeof value[field] === "string" ? value[field] : undefined
  }
  const guard = { [`${NOT_PATTERN}line-break`]: Pattern.FINAL_LINE_BREAK }
  const literal = (
    id: symbol,
    field: string,
    effects: (text: string) => string,
    exact: (text: string) => Record<string, unknown>
  ) => {
    const text = argument(id, field)
    if (text === undefined || !isEffects({ pattern: effects(text) })) return undefined
    if (text === "") return { jsonSchema: {} }
    if (LONE_SURROGATE.test(text)) {
      return { inexpressible: "its text has a lone surrogate, which a pattern read with the u flag never matches" }
    }
    return { jsonSchema: exact(text) }
  }
  switch (schemaIdOf(ast)) {
    case Schema.StartsWithSchemaId:
      return literal(Schema.StartsWithSchemaId, "startsWith", (text) => `^${text}`, (text) => ({ pattern: `^${Pattern.escape(text)}` }))
    case Schema.IncludesSchemaId:
      return literal(Schema.IncludesSchemaId, "includes", (text) => `.*${text}.*`, (text) => ({ pattern: Pattern.escape(text) }))
    case Schema.EndsWithSchemaId: {
      const text = argument(Schema.EndsWithSchemaId, "endsWith")
      if (text !== undefined && text.endsWith("\n") && isEffects({ pattern: `^.*${text}$` })) {
        return { inexpressible: "its text ends in a line break, and Python's $ also matches one line break earlier" }
      }
      return literal(Schema.EndsWithSchemaId, "endsWith", (text) => `^.*${text}$`, (text) => ({
        pattern: `${Pattern.escape(text)}$`,
        ...guard
      }))
    }
    case Schema.TrimmedSchemaId:
      if (!isEffects({ pattern: EFFECT_TRIMMED_PATTERN })) return undefined
      return { jsonSchema: { [`${NOT_PATTERN}trimmed`]: `^[${Pattern.JS_WHITE_SPACE}]|[${Pattern.JS_WHITE_SPACE}]$` } }
    case Schema.LowercasedSchemaId:
      if (!isEffects({ pattern: "^[^A-Z]*$" })) return undefined
      return { jsonSchema: { [`${NOT_PATTERN}lowercased`]: Pattern.changedByLowerCase() } }
    case Schema.UppercasedSchemaId:
      if (!isEffects({ pattern: "^[^a-z]*$" })) return undefined
      return { jsonSchema: { [`${NOT_PATTERN}uppercased`]: Pattern.changedByUpperCase() } }
    case Schema.CapitalizedSchemaId:
      if (!isEffects({ pattern: "^[^a-z]?.*$" })) return undefined
      return { jsonSchema: { [`${NOT_PATTERN}capitalized`]: `^${Pattern.bmpChangedByUpperCase()}` } }
    case Schema.UncapitalizedSchemaId:
      if (!isEffects({ pattern: "^[^A-Z]?.*$" })) return undefined
      return { jsonSchema: { [`${NOT_PATTERN}uncapitalized`]: `^${Pattern.bmpChangedByLowerCase()}` } }
    case Schema.ULIDSchemaId:
      if (!isEffects({ pattern: EFFECT_ULID_PATTERN })) return undefined
      return { jsonSchema: { pattern: "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$", ...guard } }
    case Schema.UUIDSchemaId:
      if (!("pattern" in annotation) || annotation.pattern !== UUID_PATTERN) return undefined
      return { jsonSchema: { ...annotation, ...guard } }
    default:
      return undefined
  }
}

const UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

/**
 * Whether no string that ends in a line break matches a template literal, so that refusing
 * one (Python's `$`) takes nothing away: it ends in a literal that does not, or a number.
 */
const templateEndsWithoutLineBreak = (ast: SchemaAST.TemplateLiteral): boolean => {
  const last = ast.spans[ast.spans.length - 1]
  if (last === undefined) return ast.head !== "" && !ast.head.endsWith("\n")
  if (last.literal !== "") return !last.literal.endsWith("\n")
  const endsWithout = (type: SchemaAST.TemplateLiteralSpan["type"]): boolean => {
    switch (type._tag) {
      case "NumberKeyword":
        return true
      case "Literal":
        return String(type.literal) !== "" && !String(type.literal).endsWith("\n")
      case "TemplateLiteral":
        return templateEndsWithoutLineBreak(type)
      case "Union":
        return type.types.every(endsWithout)
      default:
        return false
    }
  }
  return endsWithout(last.type)
}

/**
 * An RFC 3339 time that JavaScript's `Date` always reads (`Schema.Date`'s contract): years
 * 0000 to 9999 only, as the years `toISOString` writes beyond them (+275760) are valid only
 * up to a day JSON Schema cannot bound. ASCII digits only: `\d` matches other scripts'
 * digits in Python's `re`.
 */
const DATE_TIME_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]" +
  "(\\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"

/** What the server's `at` takes: empty (now), or an RFC 3339 time Go's parser reads. */
const AT_PATTERN = "^$|^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]" +
  "(\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"

// ---------------------------------------------------------------------------------------------
// Walking a Schema's AST
// ---------------------------------------------------------------------------------------------

/**
 * Something the walk found. `accept`: the contract is weaker there, which the definition must
 * accept; `declared`: a known difference this library states by itself; `fatal`: no contract
 * can be made (the value can never come from JSON, or JSON Schema has no way to say it).
 */
interface Finding {
  readonly path: string
  readonly what: string
  readonly direction: "weaker" | "stricter"
  readonly kind: "accept" | "declared" | "fatal"
  readonly reason: string
}

type Target = "jsonSchema7" | "jsonSchema2020-12"

const transformationOf = (schema: Schema.Schema.Any) => {
  const ast = schema.ast
  return SchemaAST.isTransformation(ast) ? ast.transformation : undefined
}

/**
 * Effect's transformations whose decoding takes every value their encoded side's JSON Schema
 * allows, and whose result the decoded side always accepts. Any other transformation may
 * refuse a value (`Schema.NumberFromString` refuses "abc"), which JSON Schema cannot see.
 */
const totalTransformations: ReadonlySet<unknown> = new Set(
  [
    Schema.Trim,
    Schema.Lowercase,
    Schema.Uppercase,
    Schema.Capitalize,
    Schema.Uncapitalize,
    Schema.BooleanFromString,
    Schema.Not,
    Schema.DateFromString,
    Schema.DateFromNumber
  ].map(transformationOf).filter((transformation) => transformation !== undefined)
)

const dateFromString = transformationOf(Schema.DateFromString)

const schemaIdOf = (ast: SchemaAST.AST): symbol | string | undefined => Option.getOrUndefined(SchemaAST.getSchemaIdAnnotation(ast))

/** `Schema.Date`: a valid-date check over `Schema.DateFromString`. */
const isSchemaDate = (ast: SchemaAST.Refinement): boolean =>
  schemaIdOf(ast) === Schema.ValidDateSchemaId && SchemaAST.isTransformation(ast.from) && ast.from.transformation === dateFromString

/** How a Schema part shows in messages: its identifier, title or description, else its type. */
const describe = (ast: SchemaAST.AST): string => {
  const named = SchemaAST.getJSONIdentifier(ast).pipe(
    Option.orElse(() => SchemaAST.getTitleAnnotation(ast)),
    Option.orElse(() => SchemaAST.getDescriptionAnnotation(ast))
  )
  const text = Option.getOrElse(named, () => String(ast))
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/**
 * A refinement over a transformation checks the decoded value, which JSON Schema never sees:
 * Effect then makes the schema of the transformation's encoded side (its internal
 * `getTransformationFrom`).
 */
const hasTransformationBelow = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "Transformation":
      return true
    case "Refinement":
      return hasTransformationBelow(ast.from)
    case "Suspend":
      return hasTransformationBelow(ast.f())
    default:
      return false
  }
}

/** Effect's rule: an annotation that says a type replaces what Effect would generate. */
const isOverride = (ast: SchemaAST.AST, annotation: object): boolean => {
  if (schemaIdOf(ast) === Schema.IntSchemaId) return "type" in annotation && annotation.type !== "integer"
  return "type" in annotation || "oneOf" in annotation || "anyOf" in annotation || "$ref" in annotation
}

const alwaysValid = () => Option.none()

/**
 * The same AST with `jsonSchema` (a non-overriding annotation, merged into what Effect makes
 * of it) around it. A Transformation's JSON Schema is its encoded side's, so the mark goes
 * there.
 */
const withJsonSchema = (ast: SchemaAST.AST, jsonSchema: Record<string, unknown>): SchemaAST.AST =>
  SchemaAST.isTransformation(ast)
    ? new SchemaAST.Transformation(withJsonSchema(ast.from, jsonSchema), ast.to, ast.transformation, ast.annotations)
    : new SchemaAST.Refinement(ast, alwaysValid, { [SchemaAST.JSONSchemaAnnotationId]: jsonSchema })

/** The keywords that only say something to people. */
const annotationKeywords: ReadonlySet<string> = new Set(["title", "description", "examples", "default", "$comment"])

/** Keywords whose value maps names (a property's, a definition's) to schemas. */
const schemaMaps: ReadonlySet<string> = new Set(["properties", "patternProperties", "$defs", "definitions"])

/** A JSON Schema without its annotation keywords: what it accepts. */
const withoutAnnotations = (json: unknown): unknown => {
  if (Array.isArray(json)) return json.map(withoutAnnotations)
  if (typeof json !== "object" || json === null) return json
  return Object.fromEntries(
    Object.entries(json).filter(([key]) => !annotationKeywords.has(key) && !key.startsWith("x-")).map(([key, value]) => [
      key,
      schemaMaps.has(key) && typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, withoutAnnotations(schema)]))
        : withoutAnnotations(value)
    ])
  )
}

const isUndefinedKeyword = (ast: SchemaAST.AST) => ast._tag === "UndefinedKeyword"

const MAX_SAFE = Number.MAX_SAFE_INTEGER

/**
 * One walk over a job's arguments Schema: finds what JSON Schema cannot say, and rewrites the
 * AST so that Effect's `JSONSchema` makes an exact schema of it (or one that says where it is
 * not). The rewritten AST serves the JSON Schema alone; decoding keeps the original.
 */
class Walk {
  readonly findings: Array<Finding> = []
  private readonly identifiers = new Map<string, Array<SchemaAST.AST>>()
  private readonly suspended = new Map<SchemaAST.AST, SchemaAST.AST>()

  constructor(
    readonly target: Target,
    readonly definitionPath: string,
    readonly definitions: Record<string, JSONSchema.JsonSchema7>
  ) {}

  /** Effect's JSON Schema of a rewritten part, sharing this walk's definitions. */
  json(ast: SchemaAST.AST): JSONSchema.JsonSchema7 {
    return JSONSchema.fromAST(ast, {
      definitions: this.definitions,
      definitionPath: this.definitionPath,
      target: this.target,
      additionalPropertiesStrategy: "allow"
    })
  }

  private find(finding: Finding): Finding {
    this.findings.push(finding)
    return finding
  }

  /** `ast` with the marks of findings that the contract states where they are. */
  private marked(ast: SchemaAST.AST, ...findings: ReadonlyArray<Finding>): SchemaAST.AST {
    const weaker = findings.filter((finding) => finding.direction === "weaker").map((finding) => finding.what)
    const stricter = findings.filter((finding) => finding.direction === "stricter").map((finding) => finding.what)
    return withJsonSchema(ast, {
      ...(weaker.length === 0 ? {} : { [WEAKER]: weaker.join("; ") }),
      ...(stricter.length === 0 ? {} : { [STRICTER]: stricter.join("; ") })
    })
  }

  /** Two different Schemas under one identifier: Effect would use the first for both. */
  conflictingIdentifiers(): Array<string> {
    const conflicts: Array<string> = []
    for (const [identifier, asts] of this.identifiers) {
      // Compared by what they accept: a description of their own is no conflict.
      const shapes = new Set(asts.map((ast) => {
        try {
          return JSON.stringify(
            withoutAnnotations(
              JSONSchema.fromAST(ast, { definitions: {}, topLevelReferenceStrategy: "skip", target: this.target })
            )
          )
        } catch {
          return String(ast)
        }
      }))
      if (shapes.size > 1) conflicts.push(identifier)
    }
    return conflicts
  }

  private noteIdentifier(ast: SchemaAST.AST) {
    const identifier = SchemaAST.getJSONIdentifier(ast)
    if (Option.isNone(identifier)) return
    const seen = this.identifiers.get(identifier.value)
    if (seen === undefined) this.identifiers.set(identifier.value, [ast])
    else if (!seen.includes(ast)) seen.push(ast)
  }

  /**
   * `ast` rewritten. `excessError`: decoding refuses unknown properties here (a
   * `parseOptions: { onExcessProperty: "error" }` annotation above). `keepUndefined`: a
   * property's own type, whose `undefined` makes the property optional to Effect.
   */
  rewrite(ast: SchemaAST.AST, path: string, excessError: boolean, keepUndefined = false): SchemaAST.AST {
    const parseOptions = SchemaAST.getParseOptionsAnnotation(ast)
    if (Option.isSome(parseOptions) && parseOptions.value.onExcessProperty !== undefined) {
      excessError = parseOptions.value.onExcessProperty === "error"
    }
    this.noteIdentifier(ast)
    const annotation = SchemaAST.getJSONSchemaAnnotation(ast)
    if (Option.isSome(annotation)) {
      // The Schema's author says what it is: Effect takes that as the whole of it.
      if (isOverride(ast, annotation.value)) return ast
      if (SchemaAST.isRefinement(ast) && !hasTransformationBelow(ast)) {
        return this.annotatedRefinement(ast, annotation.value, path, excessError)
      }
      if (SchemaAST.isDeclaration(ast)) return this.declaration(ast, path, "whose jsonSchema annotation says no type")
    }
    const surrogate = SchemaAST.getSurrogateAnnotation(ast)
    if (Option.isSome(surrogate)) return this.rewrite(surrogate.value, path, excessError, keepUndefined)
    switch (ast._tag) {
      case "Declaration":
        return this.declaration(ast, path, "with no jsonSchema annotation")
      case "BigIntKeyword":
        this.find({
          path,
          what: "a bigint",
          direction: "weaker",
          kind: "fatal",
          reason: "JSON cannot carry a bigint: use Schema.BigInt, a string on the wire"
        })
        return ast
      case "SymbolKeyword":
      case "UniqueSymbol":
        this.find({ path, what: "a symbol", direction: "weaker", kind: "fatal", reason: "JSON cannot carry a symbol" })
        return ast
      case "Literal":
        if (typeof ast.literal === "bigint") {
          this.find({ path, what: `the literal ${String(ast)}`, direction: "weaker", kind: "fatal", reason: "JSON cannot carry a bigint" })
        }
        return ast
      case "UndefinedKeyword":
        // JSON has no undefined: in an array or alone, nothing decodes here.
        return keepUndefined ? ast : SchemaAST.neverKeyword
      case "Suspend":
        return this.suspend(ast, path, excessError)
      case "TemplateLiteral":
        return this.templateLiteral(ast)
      case "TupleType":
        return this.tuple(ast, path, excessError)
      case "TypeLiteral":
        return this.typeLiteral(ast, path, excessError)
      case "Union": {
        const members = ast.types.filter((member) => keepUndefined || !isUndefinedKeyword(member))
          .map((member) => this.rewrite(member, path, excessError, keepUndefined))
        return members.length === ast.types.length && members.every((member, i) => member === ast.types[i])
          ? ast
          : SchemaAST.Union.make(members, ast.annotations)
      }
      case "Refinement":
        return this.refinement(ast, path, excessError)
      case "Transformation":
        return this.transformation(ast, path, excessError)
      default:
        return ast
    }
  }

  /**
   * A template literal's pattern as every engine reads it: ASCII digits (Python's `\d` takes
   * other scripts'), and no final line break where none could match in JavaScript. Where the
   * template ends in a string (`[\s\S]*?$`), Python's `$` adds nothing: that part takes the
   * line break itself.
   */
  private templateLiteral(ast: SchemaAST.TemplateLiteral): SchemaAST.AST {
    return SchemaAST.annotations(ast, {
      [SchemaAST.JSONSchemaAnnotationId]: {
        type: "string",
        pattern: Pattern.asciiDigits(SchemaAST.getTemplateLiteralRegExp(ast).source),
        ...(templateEndsWithoutLineBreak(ast) ? { [`${NOT_PATTERN}line-break`]: Pattern.FINAL_LINE_BREAK } : {}),
        title: String(ast),
        description: "a template literal"
      }
    })
  }

  private declaration(ast: SchemaAST.Declaration, path: string, why: string): SchemaAST.AST {
    if (schemaIdOf(ast) === Schema.DateFromSelfSchemaId) {
      this.find({
        path,
        what: `a Date (${describe(ast)})`,
        direction: "weaker",
        kind: "fatal",
        reason: "JSON cannot carry a Date (a push refuses it): use Schema.Date, an ISO string on the wire"
      })
      return ast
    }
    const finding = this.find({
      path,
      what: `a declared type (${describe(ast)}) ${why}; any value here`,
      direction: "weaker",
      kind: "accept",
      reason: "JSON Schema cannot say what it accepts"
    })
    return this.marked(SchemaAST.unknownKeyword, finding)
  }

  private suspend(ast: SchemaAST.Suspend, path: string, excessError: boolean): SchemaAST.AST {
    const seen = this.suspended.get(ast)
    if (seen !== undefined) return seen
    const inner = ast.f()
    if (Option.isNone(SchemaAST.getJSONIdentifier(ast)) && Option.isNone(SchemaAST.getJSONIdentifier(inner))) {
      this.find({
        path,
        what: `a recursive Schema (${describe(ast)})`,
        direction: "weaker",
        kind: "fatal",
        reason: "JSON Schema refers to a recursive part by name: give it an identifier annotation"
      })
      this.suspended.set(ast, ast)
      return ast
    }
    let rewritten: SchemaAST.AST = inner
    const replacement = new SchemaAST.Suspend(() => rewritten, ast.annotations)
    this.suspended.set(ast, replacement)
    rewritten = this.rewrite(inner, path, excessError)
    return replacement
  }

  private tuple(ast: SchemaAST.TupleType, path: string, excessError: boolean): SchemaAST.AST {
    if (ast.rest.length > 1) {
      const finding = this.find({
        path,
        what: `elements after a rest element (${describe(ast)}); any array here`,
        direction: "weaker",
        kind: "accept",
        reason: "JSON Schema cannot say elements that follow a rest element"
      })
      return this.marked(new SchemaAST.TupleType([], [new SchemaAST.Type(SchemaAST.unknownKeyword)], true), finding)
    }
    const elements = ast.elements.map((element, i) =>
      new SchemaAST.OptionalType(this.rewrite(element.type, `${path}[${i}]`, excessError), element.isOptional, element.annotations)
    )
    const rest = ast.rest.map((rest) =>
      new SchemaAST.Type(this.rewrite(rest.type, `${path}[${ast.elements.length === 0 ? "*" : `${ast.elements.length}…`}]`, excessError), rest.annotations)
    )
    return new SchemaAST.TupleType(elements, rest, ast.isReadonly, ast.annotations)
  }

  private typeLiteral(ast: SchemaAST.TypeLiteral, path: string, excessError: boolean): SchemaAST.AST {
    const properties: Array<SchemaAST.PropertySignature> = []
    for (const property of ast.propertySignatures) {
      if (typeof property.name !== "string") {
        this.find({
          path: `${path}[${String(property.name)}]`,
          what: "a property with a symbol key",
          direction: "weaker",
          kind: "fatal",
          reason: "JSON objects have string keys only"
        })
        continue
      }
      properties.push(
        new SchemaAST.PropertySignature(
          property.name,
          this.rewrite(property.type, `${path}.${property.name}`, excessError, true),
          property.isOptional,
          property.isReadonly,
          property.annotations
        )
      )
    }
    const indexes: Array<SchemaAST.IndexSignature> = []
    // Effect checks every property whose name the key Schema takes, declared ones too, and
    // ignores the others; JSON Schema's additionalProperties skips declared properties, and
    // Effect keeps one patternProperties of several index signatures. Said here instead.
    let anyKey: JSONSchema.JsonSchema7 | undefined
    const templates: Record<string, JSONSchema.JsonSchema7> = {}
    let refinedKeys = false
    for (const index of ast.indexSignatures) {
      const parameter = index.parameter
      if (parameter._tag === "SymbolKeyword") continue // JSON has no symbol keys: it never applies
      const type = this.rewrite(index.type, `${path}.*`, excessError, true)
      indexes.push(new SchemaAST.IndexSignature(parameter, type, index.isReadonly))
      if (parameter._tag === "StringKeyword") anyKey = this.json(type)
      else if (parameter._tag === "TemplateLiteral") {
        templates[Pattern.asciiDigits(SchemaAST.getTemplateLiteralRegExp(parameter).source)] = this.json(type)
      }
      // Stricter whatever the key Schema says: the contract checks every property's value
      // and name, the worker only the properties whose names the key Schema takes.
      else refinedKeys = true
    }
    const extra: Record<string, unknown> = {}
    if (refinedKeys) {
      if (indexes.length > 1) {
        const finding = this.find({
          path,
          what: `a record whose keys are refined, next to other index signatures (${describe(ast)}); any object here`,
          direction: "weaker",
          kind: "accept",
          reason: "JSON Schema cannot say which properties each key Schema checks"
        })
        return this.marked(SchemaAST.objectKeyword, finding)
      }
      this.find({
        path,
        what: `a record with refined keys (${describe(ast)}): the contract refuses properties whose names fail the key Schema, which the worker ignores`,
        direction: "stricter",
        kind: "declared",
        reason: "JSON Schema has no way to check only the properties whose names a Schema takes"
      })
    } else if (Object.keys(templates).length > 0) {
      extra.patternProperties = { ...(anyKey === undefined ? {} : { "": anyKey }), ...templates }
      extra.propertyNames = {}
    } else if (anyKey !== undefined && properties.length > 0) {
      const checked = anyKey
      extra.allOf = [{ properties: Object.fromEntries(properties.map((property) => [String(property.name), checked])) }]
    }
    if (excessError && anyKey === undefined) extra.additionalProperties = false
    const existing = SchemaAST.getJSONSchemaAnnotation(ast)
    const annotations = Object.keys(extra).length === 0
      ? ast.annotations
      : {
        ...ast.annotations,
        [SchemaAST.JSONSchemaAnnotationId]: { ...Option.getOrElse(existing, () => ({})), ...extra }
      }
    return new SchemaAST.TypeLiteral(properties, indexes, annotations)
  }

  /** A refinement with a jsonSchema annotation that Effect merges into its base's schema. */
  private annotatedRefinement(
    ast: SchemaAST.Refinement,
    annotation: object,
    path: string,
    excessError: boolean
  ): SchemaAST.AST {
    const from = this.rewrite(ast.from, path, excessError)
    let annotations: SchemaAST.Annotations = ast.annotations
    const findings: Array<Finding> = []
    const schemaId = schemaIdOf(ast)
    const builtIn = builtInStringFilter(ast, annotation)
    if (builtIn !== undefined && "inexpressible" in builtIn) {
      findings.push(this.find({
        path,
        what: `${describe(ast)}: ${builtIn.inexpressible}`,
        direction: "weaker",
        kind: "accept",
        reason: "no pattern says it alike in every validator's engine"
      }))
      annotations = { ...annotations, [SchemaAST.JSONSchemaAnnotationId]: {} }
    } else if (builtIn !== undefined) {
      annotations = { ...annotations, [SchemaAST.JSONSchemaAnnotationId]: builtIn.jsonSchema }
    } else if (schemaId === Schema.IntSchemaId) {
      // Schema.Int takes safe integers only; JSON Schema's "integer" takes 2^60 too.
      annotations = {
        ...annotations,
        [SchemaAST.JSONSchemaAnnotationId]: { ...annotation, minimum: -MAX_SAFE, maximum: MAX_SAFE }
      }
    } else if (schemaId === Schema.PatternSchemaId) {
      const regex: unknown = ast.annotations[Schema.PatternSchemaId]
      const flags = typeof regex === "object" && regex !== null && "regex" in regex && regex.regex instanceof RegExp
        ? regex.regex.flags.replace(/[gud]/g, "")
        : ""
      if (flags !== "") {
        findings.push(this.find({
          path,
          what: `the pattern ${describe(ast)} with its flags ${flags} left out`,
          direction: "weaker",
          kind: "accept",
          reason: "JSON Schema patterns have no flags"
        }))
      }
    } else if (schemaId === Schema.MultipleOfSchemaId && "multipleOf" in annotation) {
      const divisor = annotation.multipleOf
      if (typeof divisor === "number" && !Number.isInteger(divisor)) {
        findings.push(this.find({
          path,
          what: `multipleOf ${divisor}: validators divide in binary floating point, so 0.3 is no multiple of 0.1 to most of them`,
          direction: "stricter",
          kind: "declared",
          reason: "JSON Schema's multipleOf is computed in floating point by most validators"
        }))
      }
    }
    if ("maxLength" in annotation && typeof annotation.maxLength === "number" && annotation.maxLength >= 1) {
      findings.push(this.find({
        path,
        what: `maxLength ${annotation.maxLength}: a character outside the Basic Multilingual Plane (an emoji) counts 2 for the worker, 1 here`,
        direction: "weaker",
        kind: "declared",
        reason: "JSON Schema counts a string's code points, JavaScript its UTF-16 code units"
      }))
    }
    if ("minLength" in annotation && typeof annotation.minLength === "number" && annotation.minLength >= 2) {
      findings.push(this.find({
        path,
        what: `minLength ${annotation.minLength}: a character outside the Basic Multilingual Plane (an emoji) counts 2 for the worker, 1 here`,
        direction: "stricter",
        kind: "declared",
        reason: "JSON Schema counts a string's code points, JavaScript its UTF-16 code units"
      }))
    }
    const rewritten = from === ast.from && annotations === ast.annotations
      ? ast
      : new SchemaAST.Refinement(from, ast.filter, annotations)
    const stated = findings.filter((finding) => finding.kind !== "fatal")
    return stated.length === 0 ? rewritten : this.marked(rewritten, ...stated)
  }

  /** A refinement without a usable jsonSchema annotation. */
  private refinement(ast: SchemaAST.Refinement, path: string, excessError: boolean): SchemaAST.AST {
    if (hasTransformationBelow(ast)) {
      if (isSchemaDate(ast)) {
        this.find({
          path,
          what: "Schema.Date: the contract asks for an RFC 3339 time in the years 0000 to 9999 (2024-01-31T09:30:00Z); the " +
            "worker also reads the other dates JavaScript reads (2024-01-31, Jan 31 2024, +012024-01-31T09:30:00Z)",
          direction: "stricter",
          kind: "declared",
          reason: "what JavaScript's Date reads has no JSON Schema"
        })
        const identifier = SchemaAST.getIdentifierAnnotation(ast)
        return SchemaAST.annotations(SchemaAST.stringKeyword, {
          ...(Option.isSome(identifier) ? { [SchemaAST.IdentifierAnnotationId]: identifier.value } : {}),
          [SchemaAST.JSONSchemaAnnotationId]: {
            type: "string",
            format: "date-time",
            pattern: DATE_TIME_PATTERN,
            [`${NOT_PATTERN}date`]: Pattern.FINAL_LINE_BREAK,
            description: "an RFC 3339 time, decoded into a Date",
            [STRICTER]: "JavaScript's Date reads other dates too"
          }
        })
      }
      // A check on the decoded value: what travels is the transformation's encoded side.
      const finding = this.find({
        path,
        what: `a check on the decoded value (${describe(ast)})`,
        direction: "weaker",
        kind: "accept",
        reason: "JSON Schema sees only what travels, before decoding"
      })
      return this.marked(this.rewrite(ast.from, path, excessError), finding)
    }
    const from = this.rewrite(ast.from, path, excessError)
    // NaN never comes from JSON.
    if (schemaIdOf(ast) === Schema.NonNaNSchemaId) return from === ast.from ? ast : new SchemaAST.Refinement(from, ast.filter, ast.annotations)
    const finding = this.find({
      path,
      what: `a filter with no JSON Schema counterpart (${describe(ast)})`,
      direction: "weaker",
      kind: "accept",
      reason: "it has no jsonSchema annotation"
    })
    return this.marked(from, finding)
  }

  private transformation(ast: SchemaAST.Transformation, path: string, excessError: boolean): SchemaAST.AST {
    const from = this.rewrite(ast.from, path, excessError)
    const rebuilt = from === ast.from ? ast : new SchemaAST.Transformation(from, ast.to, ast.transformation, ast.annotations)
    const total = ast.annotations[TotalDecodingAnnotationId] === true ||
      ast.transformation._tag === "TypeLiteralTransformation" ||
      totalTransformations.has(ast.transformation) ||
      // A Schema.Class: its decoding makes an instance of the fields it decoded.
      (SchemaAST.isDeclaration(ast.to) && Option.isSome(SchemaAST.getSurrogateAnnotation(ast.to)))
    if (total) return rebuilt
    const finding = this.find({
      path,
      what: `a transformation (${describe(ast)}) whose decoding may refuse what its encoded side allows`,
      direction: "weaker",
      kind: "accept",
      reason: "JSON Schema sees only what travels, before decoding"
    })
    return this.marked(rebuilt, finding)
  }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Effect's JSON Schema as plain JSON, tidied: its internal `$id`s ("/schemas/unknown", which
 * validators would take as schema ids, and refuse when two differ) and `$comment`s left out;
 * for draft-07, a `$ref` with other keywords wrapped in `allOf` (draft-07 ignores a `$ref`'s
 * siblings, which made `{ $ref: Int, minimum: 16 }` take 3).
 */
const toJson = (value: unknown, draft: Draft): Json => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value
  if (typeof value === "number") return Number.isFinite(value) ? value : null
  if (Array.isArray(value)) return value.map((item) => toJson(item, draft))
  if (!isRecord(value)) return null
  const out: Record<string, Json> = {}
  const refused: Array<Json> = []
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue
    if (key.startsWith(NOT_PATTERN)) {
      if (typeof item === "string") refused.push({ not: { pattern: item } })
      continue
    }
    if (key === "$id" && typeof item === "string" && item.startsWith("/schemas/")) continue
    if (key === "$comment" && typeof item === "string" && item.startsWith("/schemas/")) continue
    out[key] = toJson(item, draft)
  }
  if (refused.length > 0) {
    const allOf = out.allOf
    out.allOf = [...(allOf !== undefined && isJsonArray(allOf) ? allOf : []), ...refused]
  }
  const ref = out.$ref
  if (draft === "07" && ref !== undefined && Object.keys(out).length > 1) {
    const siblings = withoutKeys(out, "$ref", "allOf")
    const allOf = out.allOf
    return { ...siblings, allOf: [{ $ref: ref }, ...(allOf !== undefined && isJsonArray(allOf) ? allOf : [])] }
  }
  return out
}

const withoutKeys = (json: JsonObject, ...keys: ReadonlyArray<string>): JsonObject =>
  Object.fromEntries(Object.entries(json).filter(([key]) => !keys.includes(key)))

/** The JSON Pointer segment of a name. */
const pointer = (name: string) => name.replace(/~/g, "~0").replace(/\//g, "~1")

/** `json` with each `$ref` that `refs` names pointing where it says. */
const renameRefs = (json: Json, refs: ReadonlyMap<string, string>): Json => {
  if (isJsonArray(json)) return json.map((item) => renameRefs(item, refs))
  if (json === null || typeof json !== "object") return json
  return renameRefsIn(json, refs)
}

const isJsonArray = (json: Json): json is ReadonlyArray<Json> => Array.isArray(json)

const renameRefsIn = (json: JsonObject, refs: ReadonlyMap<string, string>): JsonObject => {
  const out: Record<string, Json> = {}
  for (const [key, value] of Object.entries(json)) {
    out[key] = key === "$ref" && typeof value === "string" ? refs.get(value) ?? value : renameRefs(value, refs)
  }
  return out
}

const sameJson = (a: Json, b: Json) => JSON.stringify(a) === JSON.stringify(b)

/** Keywords whose value is data, not a schema: a "pattern" in it is no pattern. */
const dataKeywords: ReadonlySet<string> = new Set(["const", "enum", "default", "examples"])

/** The regular expressions of a schema: its `pattern`s and its `patternProperties`' names. */
const patternsIn = (json: Json): Array<string> => {
  if (isJsonArray(json)) return json.flatMap(patternsIn)
  if (json === null || typeof json !== "object") return []
  return Object.entries(json).flatMap(([key, value]) => {
    if (dataKeywords.has(key)) return []
    if (key === "pattern" && typeof value === "string") return [value]
    const names = key === "patternProperties" && isJsonObject(value) ? Object.keys(value) : []
    return [...names, ...patternsIn(value)]
  })
}

const isJsonObject = (json: Json): json is JsonObject => typeof json === "object" && json !== null && !isJsonArray(json)

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

interface Located {
  readonly definition: JobHandler.Definition
  readonly registeredAt: string | undefined
}

const locate = (source: Source): Either.Either<Located, ContractError> => {
  if (!JobHandler.isJobHandler(source)) return Either.right({ definition: source, registeredAt: undefined })
  if (source.definition === undefined) {
    return Either.left(
      new ContractError({
        reason: "NoDefinition",
        jobtype: source.jobtype,
        detail: "its handler was registered without a job definition (JobHandler.layer without `definition`): " +
          "register it with Job.define(…).handle, or pass its definition"
      })
    )
  }
  return Either.right({ definition: source.definition, registeredAt: source.registeredAt })
}

/** Why a definition's defaults could not make a job the server takes, or undefined. */
const invalidDefaults = (options: JobHandler.Definition["options"]): string | undefined => {
  const { queue, reserveFor, retry, backtrace } = options
  if (queue !== undefined && !new RegExp(QUEUE_PATTERN).test(queue)) {
    return `its queue ${JSON.stringify(queue)} is no queue name the server takes (${QUEUE_PATTERN})`
  }
  if (retry !== undefined && !Number.isSafeInteger(retry)) return `its retry ${retry} is not an integer`
  if (reserveFor !== undefined && !(Number.isSafeInteger(reserveFor) && reserveFor >= 60 && reserveFor <= 86400)) {
    return `its reserveFor ${reserveFor} is not a whole number of seconds from 60 to 86400`
  }
  if (backtrace !== undefined && !(Number.isSafeInteger(backtrace) && backtrace >= 0)) {
    return `its backtrace ${backtrace} is not a whole number`
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// One job
// ---------------------------------------------------------------------------------------------

interface Made {
  readonly jobtype: string
  readonly queue: string
  /** The job's schema, its `$ref`s pointing into `definitions`. */
  readonly schema: JsonObject
  readonly definitions: Record<string, Json>
  readonly differences: ReadonlyArray<Difference>
  readonly registeredAt: string | undefined
}

const describeFindings = (findings: ReadonlyArray<Finding>) =>
  findings.map((finding) => `${finding.path}: ${finding.what} (${finding.reason})`).join("; ")

const makeOne = (
  located: Located,
  draft: Draft,
  definitionPath: string
): Either.Either<Made, ContractError> => {
  const { definition } = located
  const { jobtype, options } = definition
  const invalid = invalidDefaults(options)
  if (invalid !== undefined) return Either.left(new ContractError({ reason: "InvalidDefinition", jobtype, detail: invalid }))
  const argsAst = definition.positional
    ? definition.args.ast
    : new SchemaAST.TupleType([new SchemaAST.OptionalType(definition.args.ast, false)], [], true)
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const walk = new Walk(draft === "07" ? "jsonSchema7" : "jsonSchema2020-12", definitionPath, definitions)
  let args: JSONSchema.JsonSchema7 | undefined
  let thrown: string | undefined
  try {
    const rewritten = walk.rewrite(argsAst, "args", false)
    if (walk.findings.every((finding) => finding.kind !== "fatal")) args = walk.json(rewritten)
  } catch (error) {
    // Effect's own refusals ("Missing annotation"), should the walk have missed one.
    thrown = (error instanceof Error ? error.message : String(error)).split("\n").filter((line) => line.trim() !== "").join(" ")
  }
  const fatal = walk.findings.filter((finding) => finding.kind === "fatal")
  const weaker = options.contract?.weaker
  const unaccepted = weaker === undefined ? walk.findings.filter((finding) => finding.kind === "accept") : []
  const conflicts = walk.conflictingIdentifiers()
  if (fatal.length > 0 || unaccepted.length > 0 || thrown !== undefined || conflicts.length > 0) {
    const parts = [
      ...(fatal.length > 0 ? [`cannot be said in JSON: ${describeFindings(fatal)}`] : []),
      ...(unaccepted.length > 0
        ? [
          `its contract would be weaker than the worker at ${describeFindings(unaccepted)}: annotate each with a jsonSchema ` +
          "annotation that says its type" +
          (unaccepted.some((finding) => finding.what.startsWith("a transformation"))
            ? " (or, for a transformation that refuses nothing, Contract.totalDecoding)"
            : "") +
          `, or accept the loss with Job.define(${JSON.stringify(jobtype)}, { …, contract: { weaker: "why" } })`
        ]
        : []),
      ...(thrown !== undefined ? [`Effect cannot make its JSON Schema: ${thrown}`] : []),
      ...conflicts.map((identifier) =>
        `two different Schemas are named ${JSON.stringify(identifier)} (identifier annotation); JSON Schema would use one for both: rename one`
      )
    ]
    return Either.left(new ContractError({ reason: "Inexpressible", jobtype, detail: parts.join("; ") }))
  }
  const argsJson = toJson(args, draft)
  const defs: Record<string, Json> = {}
  for (const [name, def] of Object.entries(definitions)) defs[name] = toJson(def, draft)
  const broken = [...patternsIn(argsJson), ...patternsIn(defs)].flatMap((pattern) => {
    const error = Pattern.ecmaError(pattern)
    return error === undefined ? [] : [`${JSON.stringify(pattern)} (${error})`]
  })
  if (broken.length > 0) {
    return Either.left(
      new ContractError({
        reason: "Inexpressible",
        jobtype,
        detail: `its contract would have patterns that JSON Schema cannot read (as ECMA-262 with the u flag), which ` +
          `validators refuse or misread: ${Array.from(new Set(broken)).join("; ")}: write each so that new RegExp(pattern, "u") ` +
          "takes it"
      })
    )
  }
  const differences: Array<Difference> = walk.findings.map((finding) => ({
    jobtype,
    path: finding.path,
    direction: finding.direction,
    what: finding.what,
    reason: finding.kind === "accept" && weaker !== undefined ? `${weaker} (${finding.reason})` : finding.reason
  }))
  const queue = options.queue ?? "default"
  const stated = (direction: "weaker" | "stricter"): JsonObject => {
    const list = differences.filter((difference) => difference.direction === direction)
    return list.length === 0
      ? {}
      : { [direction === "weaker" ? WEAKER : STRICTER]: list.map(({ path, reason, what }) => ({ path, what, reason })) }
  }
  const weakerText = differences.filter((d) => d.direction === "weaker").map((d) => `${d.path} (${d.what})`)
  const stricterText = differences.filter((d) => d.direction === "stricter").map((d) => `${d.path} (${d.what})`)
  const description = [
    `A Faktory job of type ${jobtype}, as the effect-faktory worker takes it: its arguments decode with the job's Schema, ` +
    "and the server accepts the rest.",
    ...(weakerText.length > 0 ? [`Weaker than the worker at ${weakerText.join("; ")}.`] : []),
    ...(stricterText.length > 0 ? [`Stricter than the worker at ${stricterText.join("; ")}.`] : [])
  ].join(" ")
  const schema: JsonObject = {
    title: jobtype,
    description,
    type: "object",
    required: ["jid", "jobtype", "args"],
    properties: {
      jid: {
        type: "string",
        minLength: 8,
        description: "The job's id, unique: the server asks for at least 8 bytes (8 characters here)."
      },
      jobtype: { const: jobtype },
      args: argsJson,
      // The server's fields: null is as good as absent to its decoder.
      queue: {
        type: ["string", "null"],
        pattern: JOB_QUEUE_PATTERN,
        ...NO_FINAL_LINE_BREAK,
        default: queue,
        description: "The queue the job waits in (empty: default)."
      },
      retry: {
        type: ["integer", "null"],
        ...GO_INT,
        default: options.retry ?? DEFAULT_RETRY,
        description: "Retries before the job is dead (0: discarded on failure, -1: straight to dead); null or absent: the " +
          "server's default. Send it: Faktory 1.10 applies the last job's retry to later jobs without one."
      },
      reserve_for: {
        type: ["integer", "null"],
        minimum: GO_INT.minimum,
        maximum: 86400,
        default: options.reserveFor ?? 1800,
        description: "Seconds a worker may hold the job (the server reserves at least 60)."
      },
      at: {
        type: ["string", "null"],
        pattern: AT_PATTERN,
        ...NO_FINAL_LINE_BREAK,
        description: "When to run it: an RFC 3339 time (the server also refuses days a month lacks, such as 02-30); empty, " +
          "null or absent: now."
      },
      created_at: { type: ["string", "null"] },
      enqueued_at: { type: ["string", "null"], description: "Set by the server." },
      backtrace: {
        type: ["integer", "null"],
        ...GO_INT,
        ...(options.backtrace === undefined ? {} : { default: options.backtrace }),
        description: "Lines of backtrace to keep on failure."
      },
      custom: {
        type: ["object", "null"],
        ...(options.custom === undefined ? {} : { default: toJson(options.custom, draft) }),
        description: "Extra data for middleware (trace context, …); the handler sees it, its arguments never do."
      },
      failure: { type: ["object", "null"], description: "Set by the server when the job fails." }
    },
    ...stated("weaker"),
    ...stated("stricter")
  }
  return Either.right({ jobtype, queue, schema, definitions: defs, differences, registeredAt: located.registeredAt })
}

/**
 * Each jobtype once: a jobtype given twice with the same contract counts once, with different
 * ones it is refused. Every jobtype that has no contract is said, in one error.
 */
const makeAll = (
  sources: Iterable<Source>,
  draft: Draft,
  definitionPath: string
): Either.Either<Array<Made>, ContractError> => {
  const made = new Map<string, Made>()
  const failed: Array<ContractError> = []
  for (const source of sources) {
    const located = locate(source)
    if (Either.isLeft(located)) return Either.left(located.left)
    const one = makeOne(located.right, draft, definitionPath)
    if (Either.isLeft(one)) {
      if (!failed.some((error) => error.message === one.left.message)) failed.push(one.left)
      continue
    }
    const job = one.right
    const first = made.get(job.jobtype)
    if (first === undefined) {
      made.set(job.jobtype, job)
      continue
    }
    if (sameJson(first.schema, job.schema) && sameJson(first.definitions, job.definitions)) continue
    const places = first.registeredAt !== undefined && job.registeredAt !== undefined
      ? ` (handle called at ${first.registeredAt} and at ${job.registeredAt})`
      : ""
    return Either.left(
      new ContractError({
        reason: "DefinedTwice",
        jobtype: job.jobtype,
        detail: `it is defined twice with different ${whatDiffers(first, job)}${places}: define each jobtype once, ` +
          "and share the definition"
      })
    )
  }
  const [first, ...others] = failed
  if (first !== undefined && others.length === 0) return Either.left(first)
  if (first !== undefined) {
    return Either.left(
      new ContractError({
        reason: failed.every((error) => error.reason === first.reason) ? first.reason : "Inexpressible",
        detail: `${failed.length} jobtypes have no contract: ${failed.map((error) => error.message).join("; ")}`
      })
    )
  }
  if (made.size === 0) return Either.left(new ContractError({ reason: "NoJobs", detail: "no job definitions to make contracts of" }))
  return Either.right(Array.from(made.values()))
}

const whatDiffers = (a: Made, b: Made): string => {
  const props = (made: Made) => isRecord(made.schema.properties) ? made.schema.properties : {}
  const [pa, pb] = [props(a), props(b)]
  if (!sameJson(pa.args ?? null, pb.args ?? null) || !sameJson(a.definitions, b.definitions)) return "argument Schemas"
  const differing = Object.keys({ ...pa, ...pb }).filter((key) => !sameJson(pa[key] ?? null, pb[key] ?? null))
  return differing.length > 0 ? `defaults (${differing.join(", ")})` : "contracts"
}

/**
 * Gathers the jobs' definitions in one place: a definition equal to one there already is
 * shared; a different one under a name taken gets the first free `name_2`, `name_3`, …, and
 * its job's references follow. `key` makes a valid name.
 */
const gather = (
  jobs: ReadonlyArray<Made>,
  prefix: string,
  key: (name: string) => string
): { readonly schemas: Array<JsonObject>; readonly definitions: Record<string, Json> } => {
  const definitions: Record<string, Json> = {}
  const schemas = jobs.map((job) => {
    const refs = new Map<string, string>()
    const renamed: Array<[string, Json]> = []
    for (const [name, def] of Object.entries(job.definitions)) {
      const base = key(name)
      let chosen = base
      for (let n = 2; Object.hasOwn(definitions, chosen) && !sameJson(definitions[chosen] ?? null, def); n++) {
        chosen = `${base}_${n}`
      }
      refs.set(`${prefix}${pointer(name)}`, `${prefix}${pointer(chosen)}`)
      renamed.push([chosen, def])
    }
    for (const [name, def] of renamed) definitions[name] = renameRefs(def, refs)
    return renameRefsIn(job.schema, refs)
  })
  return { schemas, definitions }
}

const schemaUri = (draft: Draft) =>
  draft === "07" ? "http://json-schema.org/draft-07/schema#" : "https://json-schema.org/draft/2020-12/schema"

const definitionsKey = (draft: Draft) => (draft === "07" ? "definitions" : "$defs")

/**
 * The contract of one job definition: the JSON Schema of its jobs as they travel (a
 * standalone document, with its `$schema`).
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { Contract, Job } from "@effect-faktory/core"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String, Schema.Number), queue: "mail", retry: 5 })
 * const contract = Either.getOrThrow(Contract.make(SendEmail))
 * contract.properties // { jid: …, jobtype: { const: "SendEmail" }, args: { type: "array", prefixItems: […] }, queue: …, … }
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (source: Source, options: Options = {}): Either.Either<JsonObject, ContractError> => {
  const draft = options.draft ?? "2020-12"
  return Either.flatMap(locate(source), (located) =>
    Either.map(makeOne(located, draft, `#/${definitionsKey(draft)}/`), (made) => ({
      $schema: schemaUri(draft),
      ...made.schema,
      ...(Object.keys(made.definitions).length === 0 ? {} : { [definitionsKey(draft)]: made.definitions })
    })))
}

/**
 * Where a job definition's contract differs from the worker (`[]` when it agrees exactly).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Contract, Job } from "@effect-faktory/core"
 *
 * const Remind = Job.define("Remind", { args: Schema.Tuple(Schema.Date) })
 * Contract.differences(Remind) // Either.right([{ path: "args[0]", direction: "stricter", what: "Schema.Date: …", … }])
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const differences = (source: Source): Either.Either<ReadonlyArray<Difference>, ContractError> =>
  Either.flatMap(locate(source), (located) => Either.map(makeOne(located, "2020-12", "#/$defs/"), (made) => made.differences))

/**
 * The contracts of many jobs as one JSON Schema document: a job is valid when its jobtype is
 * one of them and it matches that jobtype's contract (`if`/`then` on the jobtype, so that a
 * validator names the problems of that jobtype alone). A jobtype given twice with different
 * Schemas is refused.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { Contract, Job } from "@effect-faktory/core"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String), queue: "mail" })
 * const Resize = Job.define("Resize", { args: Schema.Struct({ file: Schema.String, width: Schema.Int }) })
 * const document = Either.getOrThrow(Contract.document([SendEmail, Resize], { draft: "07" }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const document = (sources: Iterable<Source>, options: Options = {}): Either.Either<JsonObject, ContractError> => {
  const draft = options.draft ?? "2020-12"
  const prefix = `#/${definitionsKey(draft)}/`
  return Either.map(makeAll(sources, draft, prefix), (jobs) => {
    const { definitions, schemas } = gather(jobs, prefix, (name) => name)
    const jobtypes = jobs.map((job) => job.jobtype)
    return {
      $schema: schemaUri(draft),
      title: "Faktory jobs",
      description: `The jobs an effect-faktory worker takes: ${jobtypes.join(", ")}. A job of another jobtype would ` +
        "FAIL as UnknownJobType.",
      type: "object",
      required: ["jobtype"],
      properties: { jobtype: { enum: jobtypes } },
      allOf: schemas.map((schema, i) => ({
        if: { properties: { jobtype: { const: jobtypes[i] ?? "" } }, required: ["jobtype"] },
        then: schema
      })),
      ...(Object.keys(definitions).length === 0 ? {} : { [definitionsKey(draft)]: definitions })
    }
  })
}

/** A name as AsyncAPI takes a component or channel key (`^[\w\d.\-_]+$`). */
const asComponentName = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, "_") || "_"

/** A name AsyncAPI takes as a component or channel key, unique among `taken`. */
const componentKey = (name: string, taken: Set<string>): string => {
  const base = asComponentName(name)
  let key = base
  for (let n = 2; taken.has(key); n++) key = `${base}_${n}`
  taken.add(key)
  return key
}

/**
 * The jobs as an AsyncAPI 3.0.0 document, the format that tools in other languages read: a
 * channel per queue (its address the queue's name), a message per jobtype (its payload the
 * job's contract), and a `receive` operation per channel: the worker's side. Payloads are
 * AsyncAPI Schema Objects (JSON Schema draft-07 and more), their shared parts in
 * `components.schemas`.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { Contract, Job } from "@effect-faktory/core"
 *
 * const SendEmail = Job.define("SendEmail", { args: Schema.Tuple(Schema.String), queue: "mail" })
 * const spec = Either.getOrThrow(Contract.asyncApi([SendEmail], { title: "Mailer", version: "2.1.0" }))
 * spec.channels // { mail: { address: "mail", messages: { SendEmail: { $ref: "#/components/messages/SendEmail" } }, … } }
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const asyncApi = (sources: Iterable<Source>, options: AsyncApiOptions = {}): Either.Either<JsonObject, ContractError> => {
  const prefix = "#/components/schemas/"
  return Either.map(makeAll(sources, "07", prefix), (jobs) => {
    const messageKeys = new Set<string>()
    // Names made alike that differ are told apart by gather (name_2), like any others.
    const { definitions, schemas } = gather(jobs, prefix, asComponentName)
    const messages: Record<string, Json> = {}
    const byQueue = new Map<string, Array<string>>()
    jobs.forEach((job, i) => {
      const key = componentKey(job.jobtype, messageKeys)
      const schema = schemas[i] ?? job.schema
      const description = schema.description
      const payload = withoutKeys(schema, "title", "description")
      messages[key] = {
        name: job.jobtype,
        title: job.jobtype,
        ...(typeof description === "string" ? { summary: description } : {}),
        contentType: "application/json",
        payload
      }
      byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), key])
    })
    const channels: Record<string, Json> = {}
    const operations: Record<string, Json> = {}
    for (const [queue, keys] of byQueue) {
      channels[queue] = {
        address: queue,
        title: `Faktory queue ${queue}`,
        description: `The ${queue} queue: jobs of ${keys.length === 1 ? "this jobtype" : "these jobtypes"} are pushed here ` +
          "by default (a push may name another queue).",
        messages: Object.fromEntries(keys.map((key) => [key, { $ref: `#/components/messages/${key}` }]))
      }
      operations[`receive.${queue}`] = {
        action: "receive",
        channel: { $ref: `#/channels/${queue}` },
        summary: `The worker fetches these jobs from the ${queue} queue.`,
        messages: keys.map((key) => ({ $ref: `#/channels/${queue}/messages/${key}` }))
      }
    }
    return {
      asyncapi: "3.0.0",
      info: {
        title: options.title ?? "Faktory jobs",
        version: options.version ?? "1.0.0",
        description: options.description ??
          `The jobs an effect-faktory worker takes (${jobs.map((job) => job.jobtype).join(", ")}), by the queue each is ` +
            "pushed to by default."
      },
      defaultContentType: "application/json",
      channels,
      operations,
      components: {
        messages,
        ...(Object.keys(definitions).length === 0 ? {} : { schemas: definitions })
      }
    }
  })
}

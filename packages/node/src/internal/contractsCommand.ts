/**
 * `faktory-worker contracts`: the contracts of the jobs that the required modules' handlers
 * take, as one JSON Schema document or an AsyncAPI 3 document, printed or written to a file;
 * or, with `--check`, which jobs of a file the worker would refuse, and why. With `-r`, it loads
 * and builds the modules' handler layers as the worker would (their side effects run); with
 * `--definitions`, it reads the job definitions the modules export and builds no layer. It
 * connects to no server.
 *
 * Its command line is read with `util.parseArgs`, and every problem is said in one line.
 */
import * as Contract from "@effect-faktory/core/Contract"
import * as Job from "@effect-faktory/core/Job"
import * as JobHandler from "@effect-faktory/core/JobHandler"
import * as JobRunner from "@effect-faktory/core/JobRunner"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { text as readAll } from "node:stream/consumers"
import { parseArgs } from "node:util"
import * as ControlCharacters from "./controlCharacters.js"
import * as FlagHelp from "./flagHelp.js"
import type { Flag } from "./flagHelp.js"
import * as HandlerLayers from "./handlerLayers.js"
import { shownArgument } from "./shownArgument.js"

const flags = {
  require: {
    name: "require",
    alias: "r",
    value: "module",
    description: "a module whose exports are handler layers, loaded and built as the worker does (their side effects " +
      "run); repeatable"
  },
  definitions: {
    name: "definitions",
    value: "module",
    description: "instead of -r: a module whose exports are job definitions (Job.define(…)), read without building any " +
      "layer (the module's own top-level code still runs); repeatable"
  },
  format: {
    name: "format",
    value: "format",
    description: "jsonschema: one JSON Schema for every jobtype; asyncapi: an AsyncAPI 3.0.0 document (channels = queues, " +
      "messages = jobtypes)",
    fallback: "jsonschema"
  },
  draft: {
    name: "draft",
    value: "draft",
    description: "the JSON Schema dialect of --format jsonschema: 2020-12 or 07 (AsyncAPI payloads are draft-07)",
    fallback: "2020-12"
  },
  out: {
    name: "out",
    value: "file",
    description: "write it to this file, replaced whole once it is made (never half-written), instead of stdout"
  },
  check: {
    name: "check",
    value: "file",
    description: "read jobs from this file (- for stdin), one JSON object a line, and say which the worker would refuse " +
      "and why; exits 1 if any would be, or if it holds no job"
  },
  help: { name: "help", alias: "h", description: "show this help" }
} satisfies Record<string, Flag>

/** What `faktory-worker contracts --help` prints. */
export const helpText: string = (() => {
  const rows = FlagHelp.rows(Object.values(flags))
  return [
    "faktory-worker contracts: the contracts of the jobs that the required modules' handlers take, for producers in other",
    "languages to check a job before they push it; or, with --check, which jobs the worker would refuse. Connects to no server.",
    "",
    "Usage: faktory-worker contracts -r <module> [-r <module>...] [--format jsonschema|asyncapi] [--draft 2020-12|07] [--out <file>]",
    "       faktory-worker contracts --definitions <module> [--definitions <module>...] [--format …] [--draft …] [--out <file>]",
    "       faktory-worker contracts -r <module>... | --definitions <module>... --check <file>|-",
    "",
    "Options:",
    ...rows,
    "",
    "Example: faktory-worker contracts -r ./dist/jobs.js --out contracts.json",
    "         faktory-worker contracts --definitions ./dist/definitions.js --format asyncapi --out jobs.asyncapi.json",
    ""
  ].join("\n")
})()

/** The command line, read. */
export interface Command {
  readonly require: ReadonlyArray<string>
  readonly definitions: ReadonlyArray<string>
  readonly format: "jsonschema" | "asyncapi"
  readonly draft: Contract.Draft
  readonly out: string | undefined
  readonly check: string | undefined
}

const see = " (see faktory-worker contracts --help)"

const flagOf = (arg: string): Flag | undefined =>
  Object.values<Flag>(flags).find((flag) => arg === `--${flag.name}` || arg === `-${flag.alias}` || arg.startsWith(`--${flag.name}=`))

/** Why `util.parseArgs` refused the command line, in one line of this binary's words. */
const explain = (error: unknown, args: ReadonlyArray<string>): string => {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined
  const message = error instanceof Error ? error.message : String(error)
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const arg = /'([^']*)'/.exec(message)?.[1] ?? ""
    return `unknown argument ${JSON.stringify(shownArgument(arg))}${see}`
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = /--([a-z-]+)/.exec(message)?.[1]
    const flag = Object.values<Flag>(flags).find((candidate) => candidate.name === name)
    if (flag !== undefined && flag.value === undefined) return `--${flag.name} takes no value${see}`
    if (flag !== undefined) {
      const given = args.find((arg) => flagOf(arg) === flag) ?? `--${flag.name}`
      return `${given.split("=")[0]} needs a value: ${given.split("=")[0]} <${flag.value}>${see}`
    }
  }
  return `${message.split("\n")[0] ?? "invalid command line"}${see}`
}

/** Reads the command line: a `Command`, `"help"`, or why it cannot be used. */
export const parse = (args: ReadonlyArray<string>): Either.Either<Command | "help", string> => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        require: { type: "string", short: "r", multiple: true },
        definitions: { type: "string", multiple: true },
        format: { type: "string" },
        draft: { type: "string" },
        out: { type: "string" },
        check: { type: "string" },
        help: { type: "boolean", short: "h" }
      },
      strict: true,
      allowPositionals: false,
      tokens: true
    })
  } catch (error) {
    return Either.left(explain(error, args))
  }
  const { tokens, values } = parsed
  if (values.help === true) return Either.right("help")
  for (const name of ["format", "draft", "out", "check"] as const) {
    if (tokens.filter((token) => token.kind === "option" && token.name === name).length > 1) {
      return Either.left(`--${name} is given more than once${see}`)
    }
  }
  const blank = tokens.find((token) => token.kind === "option" && token.value !== undefined && token.value.trim() === "")
  if (blank !== undefined && blank.kind === "option") {
    const flag = Object.values<Flag>(flags).find((candidate) => candidate.name === blank.name)
    return Either.left(`${blank.rawName} needs a value: ${blank.rawName} <${flag?.value ?? "value"}>${see}`)
  }
  const require = values.require ?? []
  const definitions = values.definitions ?? []
  if (require.length > 0 && definitions.length > 0) {
    return Either.left(
      `name the jobs' modules with either -r/--require (handler layers, built) or --definitions (job definitions, no layer built)${see}`
    )
  }
  if (require.length === 0 && definitions.length === 0) {
    return Either.left(`name at least one module of handlers with -r/--require, or of job definitions with --definitions${see}`)
  }
  const format = values.format ?? "jsonschema"
  if (format !== "jsonschema" && format !== "asyncapi") {
    return Either.left(`--format ${JSON.stringify(shownArgument(format))}: expected jsonschema or asyncapi`)
  }
  const draftFlag = values.draft
  const draft = draftFlag === undefined
    ? "2020-12"
    : ["2020-12", "draft-2020-12"].includes(draftFlag)
    ? "2020-12"
    : ["07", "7", "draft-07"].includes(draftFlag)
    ? "07"
    : undefined
  if (draft === undefined) return Either.left(`--draft ${JSON.stringify(shownArgument(draftFlag ?? ""))}: expected 2020-12 or 07`)
  if (format === "asyncapi" && draftFlag !== undefined && draft !== "07") {
    return Either.left("--draft 2020-12: AsyncAPI 3 payloads are draft-07 schemas; --draft applies to --format jsonschema")
  }
  if (values.check !== undefined && (values.format !== undefined || draftFlag !== undefined || values.out !== undefined)) {
    return Either.left(`--check reads jobs and says what the worker makes of them: it takes no --format, --draft or --out${see}`)
  }
  return Either.right({ require, definitions, format, draft, out: values.out, check: values.check })
}

const writeOut = (text: string) =>
  Effect.async<void>((resume) => {
    process.stdout.write(text, () => resume(Effect.void))
  })

/**
 * Writes `text` to `file` whole or not at all: into a new file beside it, flushed to disk,
 * then renamed over it. A failure leaves `file` as it was and no temporary file behind.
 */
export const writeAtomically = (file: string, text: string): Effect.Effect<void, string> => {
  const target = Path.resolve(file)
  const temporary = Path.join(
    Path.dirname(target),
    `.${Path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  )
  return Effect.try({
    try: () => {
      try {
        const fd = Fs.openSync(temporary, "wx")
        try {
          Fs.writeFileSync(fd, text)
          Fs.fsyncSync(fd)
        } finally {
          Fs.closeSync(fd)
        }
        Fs.renameSync(temporary, target)
      } catch (error) {
        Fs.rmSync(temporary, { force: true })
        throw error
      }
    },
    // The temporary file is this command's business: the message names the file asked for.
    catch: (error) =>
      `--out ${file}: cannot write it: ${(error instanceof Error ? error.message : String(error)).split(temporary).join(target)}`
  })
}

/** Why `--out` cannot name `file`: it ends in a path separator, or names a directory. */
const outRefusal = (file: string): string | undefined =>
  file.endsWith("/") || file.endsWith(Path.sep) || Fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() === true
    ? `--out ${file}: it names a directory: name the file to write`
    : undefined

/** The handlers of the loaded modules, each jobtype once, and their contracts' sources. */
const handlersOf = (context: Parameters<typeof JobHandler.all>[0]) =>
  Effect.gen(function*() {
    const all = JobHandler.all(context)
    if (all.length === 0) return yield* Effect.fail(HandlerLayers.noHandlers)
    return all
  })

const generate = (command: Command, handlers: ReadonlyArray<JobHandler.JobHandler>) =>
  Either.mapLeft(
    command.format === "asyncapi" ? Contract.asyncApi(handlers) : Contract.document(handlers, { draft: command.draft }),
    (error) => error.message
  )

const readJobs = (file: string) =>
  Effect.tryPromise({
    try: () => (file === "-" ? readAll(process.stdin) : Fs.promises.readFile(file, "utf8")),
    catch: (error) => `--check ${file}: cannot read it: ${error instanceof Error ? error.message : String(error)}`
  })

/** The longest jobtype a report line shows whole, in characters. */
const SHOWN_JOBTYPE = 100

/** `message` with `job`'s jobtype, if longer than `SHOWN_JOBTYPE`, cut short with an ellipsis. */
const boundJobtype = (message: string, job: unknown): string => {
  const jobtype: unknown = typeof job === "object" && job !== null ? Reflect.get(job, "jobtype") : undefined
  if (typeof jobtype !== "string") return message
  const characters = Array.from(jobtype)
  if (characters.length <= SHOWN_JOBTYPE) return message
  return message.split(jobtype).join(`${characters.slice(0, SHOWN_JOBTYPE - 1).join("")}…`)
}

const check = (file: string, handlers: ReadonlyMap<string, JobHandler.JobHandler>) =>
  Effect.gen(function*() {
    const lines = (yield* readJobs(file)).split("\n")
    let jobs = 0
    let refused = 0
    const report: Array<string> = []
    for (const [index, line] of lines.entries()) {
      if (line.trim() === "") continue
      jobs++
      let job: unknown
      try {
        job = JSON.parse(line)
      } catch (error) {
        refused++
        report.push(`line ${index + 1}: not JSON: ${error instanceof Error ? error.message : String(error)}`)
        continue
      }
      const refusal = yield* JobRunner.check(handlers, job)
      if (Option.isSome(refusal)) {
        refused++
        report.push(`line ${index + 1}: ${refusal.value.errtype}: ${boundJobtype(refusal.value.message, job)}`)
      }
    }
    if (jobs === 0) return yield* Effect.fail(`--check ${file}: it holds no job (one JSON object a line)`)
    report.push(`checked ${jobs} job${jobs === 1 ? "" : "s"}: ${jobs - refused} would run, ${refused} would be refused`)
    // A job's own text may hold line breaks and escape sequences: each report is one line.
    yield* writeOut(report.map((entry) => `${ControlCharacters.escape(entry)}\n`).join(""))
    if (refused > 0) return yield* Effect.fail(`${refused} of ${jobs} job${jobs === 1 ? "" : "s"} would be refused`)
  })

/** How `run` loads modules: as the worker does (`handlers`), or their exports alone. */
export interface Loaders<E> {
  /** A module's handler layers, as the worker loads them. */
  readonly handlers: (module: string) => Effect.Effect<ReadonlyArray<Layer.Layer<never, unknown, never>>, E>
  /** A module's exports, and its name as messages show it. */
  readonly exports: (module: string) => Effect.Effect<{ readonly exports: Record<string, unknown>; readonly named: string }, E>
}

/**
 * A module's job definitions, each registered with a handler that does nothing: layers of
 * this library alone, which build without running any of the application's code.
 */
const definitionLayers = <E>(load: Loaders<E>["exports"]) => (module: string) =>
  Effect.flatMap(load(module), ({ exports, named }) => {
    const definitions = Object.values(exports).filter(Job.isDefinition)
    return definitions.length === 0
      ? Effect.fail(`--definitions ${named}: it exports no job definition (Job.define(…))`)
      : Effect.succeed(definitions.map((definition) => definition.handle(() => Effect.void)))
  })

/**
 * Runs `faktory-worker contracts` with the arguments after `contracts`, loading modules with
 * `load`. Fails with the one line to say.
 */
export const run = <E>(args: ReadonlyArray<string>, load: Loaders<E>): Effect.Effect<void, string | E, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = parse(args)
    if (Either.isLeft(parsed)) return yield* Effect.fail(parsed.left)
    const command = parsed.right
    if (command === "help") return yield* writeOut(helpText)
    const refused = command.out === undefined ? undefined : outRefusal(command.out)
    if (refused !== undefined) return yield* Effect.fail(refused)
    const layers: ReadonlyArray<Layer.Layer<never, unknown, never>> = command.definitions.length > 0
      ? (yield* Effect.forEach(command.definitions, definitionLayers(load.exports))).flat()
      : (yield* Effect.forEach(command.require, load.handlers)).flat()
    const context = yield* HandlerLayers.buildContext(layers)
    const handlers = yield* handlersOf(context)
    if (command.check !== undefined) {
      const byJobtype = yield* Effect.mapError(JobHandler.collect(context), (error) => error.message)
      return yield* check(command.check, byJobtype)
    }
    // A jobtype registered twice with different Schemas is said first; twice alike, the
    // worker would refuse to start, and so does this.
    const made = generate(command, handlers)
    if (Either.isLeft(made)) return yield* Effect.fail(made.left)
    yield* Effect.mapError(JobHandler.collect(context), (error) => error.message)
    const text = `${JSON.stringify(made.right, null, 2)}\n`
    if (command.out === undefined) return yield* writeOut(text)
    yield* writeAtomically(command.out, text)
  })

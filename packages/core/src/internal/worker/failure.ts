/**
 * How a failed job is reported: errtype, message and backtrace from its Cause.
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as Protocol from "../../Protocol.js"

export interface FailureReport {
  readonly errtype: string
  readonly message: string
  readonly backtrace: ReadonlyArray<string>
}

const stringField = (value: unknown, key: string): string | undefined => {
  if (typeof value !== "object" || value === null || !(key in value)) return undefined
  const field: unknown = Reflect.get(value, key)
  return typeof field === "string" && field !== "" ? field : undefined
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** An error with no message: its fields when it has some (a tagged error's), else its name. */
const withoutMessage = (error: unknown): string => {
  const json = safeJson(error)
  if (json !== "{}") return json
  return error instanceof Error ? `${guarded(() => error.name) ?? "Error"} (no message)` : json
}

/** The longest backtrace line kept: the server keeps whole lines, so one line may not carry a whole message. */
const MAX_BACKTRACE_LINE = 500

/**
 * A typed failure reports its `errtype` (when it has one), tag or name; a defect its error's
 * name (`Defect` for a thrown non-Error, such as a string or `null`); an interruption
 * `Shutdown`. Reading an error's fields never throws: a getter that does is skipped.
 */
export const describe = (cause: Cause.Cause<unknown>): FailureReport => {
  const failure = Cause.failureOption(cause)
  const defect = Cause.dieOption(cause)
  const found = Option.isSome(failure) ? failure : defect
  const backtrace = backtraceOf(cause)
  if (Option.isNone(found)) {
    return { errtype: "Shutdown", message: "the worker shut down before the job finished", backtrace }
  }
  const error: unknown = found.value
  const errtype = guarded(() => stringField(error, "errtype") ?? stringField(error, "_tag")) ??
    (error instanceof Error ? guarded(() => error.name) ?? "Error" : Option.isSome(defect) ? "Defect" : "Error")
  const message = guarded(() => stringField(error, "message")) ??
    (typeof error === "string" ? error : withoutMessage(error))
  return { errtype, message, backtrace }
}

const guarded = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch {
    return undefined
  }
}

const backtraceOf = (cause: Cause.Cause<unknown>): ReadonlyArray<string> => {
  const pretty = guarded(() => Cause.pretty(cause, { renderErrorCause: true })) ?? "(the cause could not be rendered)"
  const lines: Array<string> = []
  for (const line of pretty.split("\n")) {
    if (line.trim() === "") continue
    lines.push(line.length > MAX_BACKTRACE_LINE ? `${line.slice(0, MAX_BACKTRACE_LINE)}…` : line)
    if (lines.length === Protocol.MAX_BACKTRACE_LINES) break
  }
  return lines
}

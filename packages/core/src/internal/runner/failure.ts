/**
 * How a failed job is reported: errtype, message and backtrace from its Cause, each bounded
 * as the server bounds what it keeps, since the report is logged as well as sent.
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as Protocol from "../../Protocol.js"
import { guarded } from "../shared/guarded.js"

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

/** Room for `bounded`'s note of what it cut: "… (2147483647 more characters)". */
const NOTE_BYTES = 40

/**
 * `text` cut to at most `maxBytes` of UTF-8 (without splitting a character, as the FAIL sent
 * to the server is cut), and saying how many characters were cut, so that a reader of a log
 * line or of the job's failure knows there was more.
 */
export const bounded = (text: string, maxBytes: number): string => {
  if (Protocol.truncateUtf8(text, maxBytes) === text) return text
  const kept = Protocol.truncateUtf8(text, maxBytes - NOTE_BYTES)
  return `${kept}… (${text.length - kept.length} more characters)`
}

/** A field of another producer's job (a jid, a jobtype), which may be any length, as a log line quotes it. */
export const quoted = (text: string): string => bounded(text, Protocol.MAX_MESSAGE_BYTES)

/** The longest backtrace line kept, in bytes: the server keeps whole lines, so one line may not carry a whole message. */
const MAX_BACKTRACE_LINE_BYTES = 500

/**
 * A typed failure reports its `errtype` (when it has one), tag or name; a defect its error's
 * name (`Defect` for a thrown non-Error, such as a string or `null`); an interruption
 * `Shutdown`. Reading an error's fields never throws: a getter that does is skipped. The
 * errtype is cut to what the server keeps; the message too, saying how much was cut.
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
  return {
    errtype: Protocol.truncateUtf8(errtype, Protocol.MAX_ERRTYPE_BYTES),
    message: bounded(message, Protocol.MAX_MESSAGE_BYTES),
    backtrace
  }
}


const backtraceOf = (cause: Cause.Cause<unknown>): ReadonlyArray<string> => {
  const pretty = guarded(() => Cause.pretty(cause, { renderErrorCause: true })) ?? "(the cause could not be rendered)"
  const lines: Array<string> = []
  for (const line of pretty.split("\n")) {
    if (line.trim() === "") continue
    lines.push(bounded(line, MAX_BACKTRACE_LINE_BYTES))
    if (lines.length === Protocol.MAX_BACKTRACE_LINES) break
  }
  return lines
}

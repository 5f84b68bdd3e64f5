/**
 * The `pretty` log format: Effect's pretty layout (a record's first line starts at column 0
 * with its time; its cause, further messages and annotations follow indented) with every
 * character that comes from elsewhere escaped (`ControlCharacters`). Effect's own pretty
 * logger writes messages and annotation values as they are, so a jobtype holding a line
 * break forged a record of ours. Here every line at column 0 is a record; a line break in a
 * Cause (an error message's) continues its record, indented, and cannot pass for one.
 *
 * @internal
 */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as LogSpan from "effect/LogSpan"
import * as Util from "node:util"
import * as ControlCharacters from "./controlCharacters.js"

/** SGR codes, as Effect's pretty logger uses them. */
const SGR = { bold: "1", black: "30", red: "31", green: "32", yellow: "33", blue: "34", cyan: "36", white: "37", gray: "90", bgBrightRed: "101" } as const

const levelColors: Readonly<Record<LogLevel.LogLevel["_tag"], ReadonlyArray<string>>> = {
  None: [],
  All: [],
  Trace: [SGR.gray],
  Debug: [SGR.blue],
  Info: [SGR.green],
  Warning: [SGR.yellow],
  Error: [SGR.red],
  Fatal: [SGR.bgBrightRed, SGR.black]
}

const painted = (text: string, codes: ReadonlyArray<string>): string =>
  `${codes.map((code) => `\u001b[${code}m`).join("")}${text}\u001b[0m`

const time = (date: Date): string =>
  `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}:${
    String(date.getSeconds()).padStart(2, "0")
  }.${String(date.getMilliseconds()).padStart(3, "0")}`

/** A continuation of the record: indented, so that only a record's first line is at column 0. */
const INDENT = "  "

/** A value that is not a string, as Node's console shows it (on one line when it fits), redacted. */
const inspected = (value: unknown): string =>
  Util.inspect(Inspectable.redact(value), { breakLength: Number.POSITIVE_INFINITY })

/**
 * The pretty logger: a record as one string of lines, for `Logger.withConsoleLog`. Colours
 * (ours only: a job's ESC is escaped like any control character) when `colors` is set.
 */
export const make = (options: { readonly colors: boolean }): Logger.Logger<unknown, string> => {
  const paint = options.colors ? painted : (text: string) => text
  return Logger.make(({ annotations, cause, date, fiberId, logLevel, message, spans }) => {
    let first = `${paint(`[${time(date)}]`, [SGR.white])} ${paint(logLevel.label, levelColors[logLevel._tag])} (${
      FiberId.threadName(fiberId)
    })`
    for (const span of spans) first += ` ${ControlCharacters.escape(LogSpan.render(date.getTime())(span))}`
    first += ":"
    const messages = Arr.ensure(message)
    const [head, ...rest] = messages
    const inline = typeof head === "string" ? head : undefined
    if (inline !== undefined) first += ` ${paint(ControlCharacters.escape(inline), [SGR.bold, SGR.cyan])}`
    const lines = [first]
    if (!Cause.isEmpty(cause)) {
      for (const line of ControlCharacters.escapeLines(Cause.pretty(cause, { renderErrorCause: true }))) {
        lines.push(INDENT + line)
      }
    }
    for (const part of inline === undefined ? messages : rest) {
      if (typeof part === "string") lines.push(INDENT + ControlCharacters.escape(part))
      else for (const line of ControlCharacters.escapeLines(inspected(part))) lines.push(INDENT + line)
    }
    for (const [key, value] of HashMap.toEntries(annotations)) {
      const shown = typeof value === "string" ? value : inspected(value)
      lines.push(`${INDENT}${paint(`${ControlCharacters.escape(key)}:`, [SGR.bold, SGR.white])} ${ControlCharacters.escape(shown)}`)
    }
    return lines.join("\n")
  })
}

/**
 * Durations given by callers, read without throwing: `Duration.decode` throws on text it cannot
 * read ("25 secs", "soon"), which would be a defect where a refusal the caller can read is due,
 * and it reads `NaN` and `-Infinity` as zero, which would silently mean "now".
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** The duration, or none when `input` is not one (unreadable text, `NaN`). */
export const decode = (input: Duration.DurationInput): Option.Option<Duration.Duration> => {
  // NaN would be zero; -Infinity too (a negative number is zero, which is a choice a caller makes).
  if (typeof input === "number" && (Number.isNaN(input) || input === Number.NEGATIVE_INFINITY)) return Option.none()
  try {
    return Option.some(Duration.decode(input))
  } catch {
    return Option.none()
  }
}

/** A duration input as an error message quotes it: text quoted, the rest as JavaScript shows it. */
export const describe = (input: unknown): string => {
  if (typeof input === "string") return JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input)
  try {
    return String(input)
  } catch {
    return "a value that cannot be shown"
  }
}

/** How to write one, for the same messages. */
export const howToWrite = `write it as "10 seconds", "500 millis" or a number of milliseconds`

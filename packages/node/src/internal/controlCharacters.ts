/**
 * Control characters in text written to a log. Log lines quote what jobs carry (a jid, a
 * jobtype, a handler's message about its arguments), and another producer may put anything
 * there: a line break starts what looks like a record of ours, a carriage return or an ESC
 * sequence rewrites the terminal that shows the log. Every such character is written as an
 * escape instead, as JSON writes it (`\n`, `\u001b`), so that a job's text stays on its line
 * and reaches no terminal as an instruction.
 *
 * @internal
 */

/** C0 (line breaks, tab, ESC…), DEL, C1 (8-bit CSI…), and the Unicode line and paragraph separators. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g

/** What JSON leaves as it is among those: DEL, C1 and the separators. */
const UNESCAPED_BY_JSON = /[\u007f-\u009f\u2028\u2029]/g

const SHORT: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }

const escapeOne = (character: string): string =>
  SHORT[character] ?? `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`

/** `text` with every control character written as an escape: one line, whatever it held. */
export const escape = (text: string): string => text.replace(CONTROL, escapeOne)

/**
 * Several lines of ours (a rendered Cause: the error's message, then its stack), each line
 * escaped: a line break inside a message still starts a new line, but only as a continuation
 * of the record, which the caller indents.
 */
export const escapeLines = (text: string): ReadonlyArray<string> => text.split(/\r\n|\n/).map(escape)

/**
 * A line of JSON with the control characters `JSON.stringify` leaves raw escaped as well. In
 * JSON they can only be inside strings, where `\uXXXX` means the same character, so the line
 * parses to the same value.
 */
export const escapeJson = (json: string): string => json.replace(UNESCAPED_BY_JSON, escapeOne)

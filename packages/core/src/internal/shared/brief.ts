/**
 * A value quoted in a message, shown briefly. Schema issues quote the value that failed
 * ("Expected string, actual …"); in a worker that value comes from a job, so it may be
 * megabytes long or carry personal data, and the message is logged and sent to the server on
 * every retry. Short values are shown whole; a long string by its length and first
 * characters; a long array by its length; a long object by its number of keys and its first
 * keys, never its values.
 *
 * @internal
 */
import { guarded } from "./guarded.js"

/** Values whose rendering is at most this long are shown whole. */
export const MAX_WHOLE = 40

/** How many characters of a long string, or of an object's key, are shown. */
const PREFIX = 16

/** How many characters of its keys a long object shows. */
const KEYS = 40

/** Cuts `text` to at most `length` UTF-16 units without splitting a surrogate pair. */
const prefix = (text: string, length: number): string =>
  text.slice(0, /[\uD800-\uDBFF]/.test(text.charAt(length - 1)) ? length - 1 : length)

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`

const isPlainObject = (value: object): boolean => {
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/**
 * `value` as JSON (`undefined`, bigints and symbols as JavaScript writes them), or `undefined`
 * as soon as that passes `budget` characters: a large value is never rendered whole only to be
 * cut. Each level of nesting costs a character, so a cycle ends too.
 */
const renderWithin = (value: unknown, budget: number): string | undefined => {
  if (budget <= 0) return undefined
  switch (typeof value) {
    case "string": {
      if (value.length > budget) return undefined
      const json = JSON.stringify(value)
      return json.length <= budget ? json : undefined
    }
    case "number":
    case "boolean":
    case "undefined":
    case "symbol": {
      const text = String(value)
      return text.length <= budget ? text : undefined
    }
    case "bigint": {
      const text = `${value}n`
      return text.length <= budget ? text : undefined
    }
  }
  if (value === null) return budget >= 4 ? "null" : undefined
  if (typeof value !== "object") return undefined
  const array = Array.isArray(value)
  if (!array && !isPlainObject(value)) return undefined
  const keys = array ? undefined : Object.keys(value)
  const count = keys?.length ?? (Array.isArray(value) ? value.length : 0)
  let text = array ? "[" : "{"
  for (let index = 0; index < count; index++) {
    if (index > 0) text += ","
    const key = keys?.[index]
    if (key !== undefined) text += `${JSON.stringify(key)}:`
    const rendered = renderWithin(Reflect.get(value, key ?? index), budget - text.length - 1)
    if (rendered === undefined) return undefined
    text += rendered
  }
  text += array ? "]" : "}"
  return text.length <= budget ? text : undefined
}

const describeObject = (value: object): string => {
  if (Array.isArray(value)) return `an array of ${plural(value.length, "item")}`
  if (!isPlainObject(value)) {
    const name: unknown = value.constructor.name
    return typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object"
  }
  const keys = Object.keys(value)
  let shown = ""
  for (const key of keys) {
    const next = shown === "" ? JSON.stringify(key) : `${shown}, ${JSON.stringify(key)}`
    if (next.length > KEYS) {
      shown = shown === "" ? `${JSON.stringify(prefix(key, PREFIX))}…` : `${shown}, …`
      break
    }
    shown = next
  }
  return `an object of ${plural(keys.length, "key")}${shown === "" ? "" : ` (${shown})`}`
}

/**
 * `value` as a message quotes it: as JSON when that is at most `MAX_WHOLE` characters, else
 * a description that gives its size and no more than a short prefix.
 */
export const brief = (value: unknown): string => {
  if (typeof value === "string" && value.length > MAX_WHOLE) {
    return `a string of ${plural(value.length, "character")} starting ${JSON.stringify(prefix(value, PREFIX))}`
  }
  const whole = guarded(() => renderWithin(value, MAX_WHOLE))
  if (whole !== undefined) return whole
  // A function would render as its source.
  if (typeof value !== "object" || value === null) return `a ${typeof value}`
  return guarded(() => describeObject(value)) ?? "an object"
}

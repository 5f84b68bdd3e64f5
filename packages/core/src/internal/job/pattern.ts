/**
 * The regular expressions of contracts. JSON Schema's `pattern` is an ECMA-262 regular
 * expression read with the `u` flag; validators in other languages run it with their own
 * engines (Python's `re`, Go's RE2). The patterns this module writes mean the same in all
 * three: no `\s`, `\d` or `\w` (whose classes differ), no lookaround (RE2 has none), and
 * characters written as themselves rather than as `\u` escapes (RE2 does not read them).
 */

/** A text as a pattern that matches it literally, in every engine. */
export const escape = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")

/**
 * JavaScript's white space, as `\s` and `String.prototype.trim` read it (WhiteSpace and
 * LineTerminator), as a class body: `\s` is ASCII in Go's RE2 (no U+00A0, no U+000B) and
 * in Python's `re` takes U+001C to U+001F and U+0085, which JavaScript does not.
 */
export const JS_WHITE_SPACE = "\\t\\n\\v\\f\\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

/**
 * A pattern matching a string that ends in a line break. Beside a pattern ending in `$`,
 * Python's `re` lets `$` match before a final line break too ("abc\n" passes `^[a-z]+$`);
 * refusing this pattern (`not`) takes that back. It is only said beside a pattern that
 * JavaScript never matches to such a string, so that it refuses nothing JavaScript takes.
 */
export const FINAL_LINE_BREAK = "\\n$"

/** Why `pattern` does not compile as JSON Schema reads it (ECMA-262 with the `u` flag), or undefined. */
export const ecmaError = (pattern: string): string | undefined => {
  try {
    new RegExp(pattern, "u")
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/**
 * `pattern` with its `\d`s written `[0-9]` (`0-9` in a class): Effect's template literals use
 * `\d`, which Python's `re` reads as any script's digits (Arabic-Indic ones too). The same in
 * JavaScript, where `\d` is ASCII.
 */
export const asciiDigits = (pattern: string): string => {
  let out = ""
  let inClass = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i)
    if (c === "\\") {
      const next = pattern.charAt(i + 1)
      out += next === "d" ? (inClass ? "0-9" : "[0-9]") : c + next
      i++
      continue
    }
    if (c === "[" && !inClass) inClass = true
    else if (c === "]" && inClass) inClass = false
    out += c
  }
  return out
}

/** A code point as a class member: itself, or escaped where a class gives it a meaning. */
const classMember = (code: number): string => {
  const char = String.fromCodePoint(code)
  return "\\][^-".includes(char) ? `\\${char}` : char
}

/**
 * A class of the code points up to `last` that `changes` (its argument: the code point as a
 * string) says yes to, as ranges of the characters themselves. Lone surrogates stay out:
 * no case mapping changes one, and a class with one means different things in each engine.
 */
const classOf = (changes: (char: string) => boolean, last: number): string => {
  let body = ""
  let start = -1
  const close = (end: number) => {
    if (start < 0) return
    body += end === start ? classMember(start) : end === start + 1
      ? classMember(start) + classMember(end)
      : `${classMember(start)}-${classMember(end)}`
    start = -1
  }
  for (let code = 0; code <= last; code++) {
    const inside = (code < 0xd800 || code > 0xdfff) && changes(String.fromCodePoint(code))
    if (inside && start < 0) start = code
    else if (!inside) close(code - 1)
  }
  close(last)
  return `[${body}]`
}

const cache = new Map<string, string>()
const cached = (key: string, make: () => string): string => {
  const known = cache.get(key)
  if (known !== undefined) return known
  const made = make()
  cache.set(key, made)
  return made
}

/**
 * The characters that `toLowerCase` changes, as a class (`Schema.Lowercased` takes a string
 * with none of them). Per character: apart from final sigma, which only changes `Σ`, itself
 * always changed, JavaScript's case mappings do not look at the neighbours. Made from the
 * running engine's Unicode tables, as the worker's check is.
 */
export const changedByLowerCase = (): string => cached("lower", () => classOf((char) => char.toLowerCase() !== char, 0x10ffff))

/** The characters that `toUpperCase` changes, as a class (`Schema.Uppercased`). */
export const changedByUpperCase = (): string => cached("upper", () => classOf((char) => char.toUpperCase() !== char, 0x10ffff))

/**
 * The characters of the Basic Multilingual Plane that `toUpperCase` changes: what
 * `Schema.Capitalized` refuses first. Its check reads the first UTF-16 unit, and the first
 * unit of a character beyond the plane (an emoji, 𝔞) is a surrogate that no case mapping
 * changes.
 */
export const bmpChangedByUpperCase = (): string =>
  cached("upperBmp", () => classOf((char) => char.toUpperCase() !== char, 0xffff))

/** The characters of the Basic Multilingual Plane that `toLowerCase` changes (`Schema.Uncapitalized`). */
export const bmpChangedByLowerCase = (): string =>
  cached("lowerBmp", () => classOf((char) => char.toLowerCase() !== char, 0xffff))

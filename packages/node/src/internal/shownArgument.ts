/**
 * A value a user typed (a flag's value, an environment variable) as an error message shows it.
 * A value that may hold a URL (a `:`, an `@` or a `%40`) is shown as `FaktoryUrl.redact` shows
 * URLs: a URL given to the wrong flag, or to none, still holds its password.
 *
 * @internal
 */
import * as FaktoryUrl from "@effect-faktory/core/FaktoryUrl"

export const shownArgument = (value: string): string => (/[:@]|%40/i.test(value) ? FaktoryUrl.redact(value) : value)

/**
 * Whether a value meant as something else (a label) is a URL, or holds a password as one
 * does (`:pw@`): "region:eu" is not; "tcp://…" and ":s3cret@host" are.
 */
export const isUrlLike = (value: string): boolean =>
  /^[A-Za-z][A-Za-z0-9+.-]*:[/\\]/.test(value) || /:[^@]*(@|%40)/i.test(value)

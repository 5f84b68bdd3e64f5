/**
 * A value a user typed (a flag's value, an environment variable) as an error message shows it.
 * A value that may hold a URL (a `:`, an `@` or a `%40`) is shown as `FaktoryUrl.redact` shows
 * URLs: a URL given to the wrong flag, or to none, still holds its password.
 *
 * @internal
 */
import { FaktoryUrl } from "@effect-faktory/core"

export const shownArgument = (value: string): string => (/[:@]|%40/i.test(value) ? FaktoryUrl.redact(value) : value)

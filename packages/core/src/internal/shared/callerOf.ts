/**
 * The call site of `fn`'s caller (file:line:column), from a stack trace taken without `fn`'s
 * own frame: V8's `Error.captureStackTrace`; elsewhere, or with stack traces off, none.
 */
export const callerOf = (fn: (...args: never) => unknown): string | undefined => {
  if (typeof Error.captureStackTrace !== "function") return undefined
  const holder: { stack?: string } = {}
  Error.captureStackTrace(holder, fn)
  const frame = holder.stack?.split("\n")[1]?.trim()
  if (frame === undefined || !frame.startsWith("at ")) return undefined
  // "at name (file:line:column)" or, for a top-level call, "at file:line:column".
  const inParentheses = /\((.+)\)$/.exec(frame)
  return inParentheses === null ? frame.slice(3) : inParentheses[1]
}

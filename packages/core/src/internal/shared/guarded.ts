/**
 * Reads a caller's value, which may be a proxy or have getters that throw: what `read`
 * returns, or undefined when it throws. Messages about a failure must not fail themselves.
 */
export const guarded = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch {
    return undefined
  }
}

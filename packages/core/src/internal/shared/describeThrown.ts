/**
 * What an exception thrown by a caller's value (a getter, a proxy, a Schema transform) says,
 * quoted and cut short, for a validation message. Stringifying it may itself throw.
 */
export const describeThrown = (thrown: unknown): string => {
  let text: string
  try {
    text = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)
  } catch {
    text = "an exception that cannot be shown"
  }
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)
}

/**
 * A reply in words for error messages: short, and with its text quoted, since a reply may
 * come from something that is not a Faktory server.
 */
import type { Reply } from "../../Resp.js"

export const describeReply = (reply: Reply): string => {
  const clip = (text: string) => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)
  switch (reply._tag) {
    case "SimpleString":
      return `+${clip(reply.value)}`
    case "ErrorReply":
      return `-${reply.code} ${clip(reply.message)}`
    case "BulkString":
      return `a bulk string ${clip(reply.value)}`
    case "NullBulk":
      return "a null bulk string"
  }
}

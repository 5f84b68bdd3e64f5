/**
 * The floor: a worker written by hand on `node:net`, with no library. It does only what every
 * worker must (greet, FETCH, parse the job, ACK with the next FETCH in the same write), with no
 * validation, supervision, errors, logs or metrics, so it shows what Node itself costs per job
 * on this machine; what a library spends above it is its own. One JSON line, `process` only.
 */
import * as Net from "node:net"
import { measure, readParams, report, startClock, stopClock } from "../Scenario.js"

const params = readParams(process.argv)
if (params.scenario !== "process") throw new Error(`the bare runner runs only "process", not ${params.scenario}`)
const { concurrency, count, queue, url } = params
const { hostname, port } = new URL(url.replace(/^tcp:/, "http:"))
const wid = Math.random().toString(16).slice(2, 14)
const fetchLine = `FETCH ${queue}\r\n`

/** One connection's loop; `done` is called once the processors together have handled `count` jobs. */
const processor = (state: { handled: number }, done: () => void) => {
  const socket = Net.connect(Number(port), hostname)
  socket.setNoDelay(true)
  let buffered = ""
  let bulkLength: number | undefined = undefined
  let phase: "greeting" | "hello" | "working" = "greeting"
  let ackReplyDue = false
  const onReply = (reply: string | null) => {
    if (phase === "greeting") {
      phase = "hello"
      socket.write(`HELLO {"v":2,"wid":"${wid}","hostname":"bare","pid":${process.pid},"labels":[]}\r\n`)
      return
    }
    if (phase === "hello") {
      phase = "working"
      socket.write(fetchLine)
      return
    }
    if (ackReplyDue) {
      ackReplyDue = false
      return
    }
    if (reply === null) {
      socket.write(fetchLine)
      return
    }
    const job: unknown = JSON.parse(reply)
    const jid = typeof job === "object" && job !== null ? Reflect.get(job, "jid") : undefined
    if (typeof jid !== "string") throw new Error(`a job without a jid: ${reply}`)
    if (state.handled++ === 0) startClock()
    if (state.handled === count) done()
    ackReplyDue = true
    socket.write(`ACK {"jid":"${jid}"}\r\n${fetchLine}`)
  }
  socket.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8")
    while (true) {
      if (bulkLength === undefined) {
        const end = buffered.indexOf("\r\n")
        if (end < 0) return
        const line = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        if (line[0] !== "$") {
          onReply(line)
          continue
        }
        const length = Number(line.slice(1))
        if (length < 0) {
          onReply(null)
          continue
        }
        bulkLength = length
      }
      // Job payloads here are ASCII: a character is a byte.
      if (buffered.length < bulkLength + 2) return
      const body = buffered.slice(0, bulkLength)
      buffered = buffered.slice(bulkLength + 2)
      bulkLength = undefined
      onReply(body)
    }
  })
  return socket
}

measure(count, () =>
  new Promise((resolve) => {
    const state = { handled: 0 }
    const sockets: Array<Net.Socket> = []
    const done = () => {
      stopClock()
      for (const socket of sockets) socket.destroy()
      resolve({})
    }
    for (let i = 0; i < concurrency; i++) sockets.push(processor(state, done))
  })).then(report, (error: unknown) => {
    console.error(error)
    process.exit(1)
  })

import { describe, expect, it } from "@effect/vitest"
import { Resp } from "@effect-faktory/core"
import { Either, FastCheck as fc } from "effect"
import { createHash } from "node:crypto"
import * as Handshake from "../dist/internal/wire/handshake.js"

describe("Handshake", () => {
  it("hashes passwords like the server (its own test vector)", () => {
    expect(Handshake.passwordHash("foobar", "55104dc76695721d", 1545)).toBe(
      "6d877f8e5544b1f2598768f817413ab8a357afffa924dedae99eb91472d4ec30"
    )
  })

  it.prop(
    "hashes like iterated node:crypto SHA-256",
    [fc.string(), fc.stringMatching(/^[0-9a-f]{1,16}$/), fc.integer({ min: 1, max: 50 })],
    ([password, salt, iterations]) => {
      let digest = createHash("sha256").update(password + salt).digest()
      for (let i = 1; i < iterations; i++) digest = createHash("sha256").update(digest).digest()
      expect(Handshake.passwordHash(password, salt, iterations)).toBe(digest.toString("hex"))
    }
  )

  it("hashes the largest iteration count well inside the server's 2 s handshake window", () => {
    const started = performance.now()
    Handshake.passwordHash("secret", "3f9a0c1d22e4b7a8", 8095)
    // A generous bound: the point is the order of magnitude (WebCrypto took ~435 ms).
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it("parses greetings with and without a salt", () => {
    expect(Handshake.parseHi(Resp.simpleString("HI {\"v\":2}"))).toEqual(Either.right({ v: 2 }))
    expect(Handshake.parseHi(Resp.simpleString("HI {\"v\":2,\"i\":5731,\"s\":\"3f9a0c1d22e4b7a8\"}"))).toEqual(
      Either.right({ v: 2, i: 5731, s: "3f9a0c1d22e4b7a8" })
    )
  })

  it("refuses a greeting asking for far more hash rounds than a server sends (it sends 4,000 to 8,095)", () => {
    const greeting = (i: number) => Handshake.parseHi(Resp.simpleString(`HI {"v":2,"i":${i},"s":"1f2e3d4c5b6a7988"}`))
    expect(Either.isRight(greeting(8095))).toBe(true)
    expect(Either.isRight(greeting(65_536))).toBe(true)
    const refused = greeting(1_000_000)
    expect(Either.isLeft(refused) && refused.left.message).toContain("1000000 hash rounds")
    expect(Either.isLeft(greeting(65_537))).toBe(true)
  })

  it("refuses a greeting of any protocol version but 2, naming it", () => {
    for (const version of [0, 1, 3, 99]) {
      const result = Handshake.parseHi(Resp.simpleString(`HI {"v":${version}}`))
      expect(Either.isLeft(result) && result.left.message).toContain(`version ${version}`)
    }
  })

  it("rejects what is not a greeting", () => {
    const wrong = [Resp.simpleString("OK"), Resp.errorReply("ERR", "x"), Resp.simpleString("HI nope"), Resp.nullBulk]
    for (const reply of wrong) {
      expect(Either.isLeft(Handshake.parseHi(reply))).toBe(true)
    }
  })

  it("says what is wrong with a malformed greeting in words, not in Schema's internals", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["HI {v:2", `malformed HI greeting: not JSON: "{v:2"`],
      ["HI []", `malformed HI greeting: not a JSON object: "[]"`],
      [`HI {"v":"2"}`, `malformed HI greeting: v: Expected number, actual "2"`],
      [`HI {"x":1}`, "malformed HI greeting: v: is missing"]
    ]
    for (const [greeting, detail] of cases) {
      const result = Handshake.parseHi(Resp.simpleString(greeting))
      expect(Either.isLeft(result) && result.left.detail, greeting).toBe(detail)
    }
  })

  it("builds HELLO with the hash only when the server asks, and worker fields only for workers", () => {
    expect(Handshake.hello({ v: 2 }, "pw", undefined)).toEqual({ v: 2 })
    const worker = { wid: "w1", hostname: "h", pid: 7, labels: ["node"] }
    const hello = Handshake.hello({ v: 2, s: "55104dc76695721d", i: 1545 }, "foobar", worker)
    expect(hello).toEqual({
      v: 2,
      wid: "w1",
      hostname: "h",
      pid: 7,
      labels: ["node"],
      pwdhash: "6d877f8e5544b1f2598768f817413ab8a357afffa924dedae99eb91472d4ec30"
    })
  })
})

import { describe, expect, it } from "@effect/vitest"
import * as Chart from "../src/Chart.js"

describe("the ratio chart", () => {
  const rows: ReadonlyArray<Chart.ChartRow> = [
    { label: "process-10", higherIsBetter: true, ours: { median: 6000, min: 5000, max: 6500 }, npm: { median: 3000, min: 2900, max: 3100 }, go: { median: 6000, min: 5900, max: 6100 } },
    { label: "latency <p50> & co", higherIsBetter: false, ours: { median: 1.5, min: 1.2, max: 1.9 }, npm: { median: 1, min: 0.9, max: 1.1 } }
  ]

  it("gives each row a dot per peer at the ratio of medians, coloured by which way is better", () => {
    const svg = Chart.render(rows, "test")
    expect(svg.startsWith("<svg ")).toBe(true)
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true)
    // Labels are escaped, so the document stays well formed.
    expect(svg).toContain(">latency &lt;p50&gt; &amp; co<")
    expect(svg.match(/<circle /g)).toHaveLength(2)
    expect(svg.match(/<path /g)).toHaveLength(1)
    expect(svg).toContain(">2.00×<")
    expect(svg).toContain(">1.50×<")
    // Faster than npm: green; slower latency than npm: amber.
    expect(svg).toMatch(/<circle [^>]*fill="#2e8b57"/)
    expect(svg).toMatch(/<circle [^>]*fill="#d98b00"/)
  })

  it("spans the widest range the repetitions allow", () => {
    expect(Chart.ratioOf({ median: 6000, min: 5000, max: 6500 }, { median: 3000, min: 2900, max: 3100 })).toEqual({
      median: 2,
      low: 5000 / 3100,
      high: 6500 / 2900
    })
    expect(Chart.ratioOf({ median: 1, min: 1, max: 1 }, { median: 0, min: 0, max: 0 })).toBeUndefined()
  })
})

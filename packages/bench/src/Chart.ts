/**
 * The benchmark's ratios as a picture: one row per measure, effect-faktory ÷ npm and ÷ Go,
 * each a dot at the ratio of medians with a bar over the widest range the repetitions allow
 * (our slowest against their fastest, and the other way round). A log scale, so that 2× and
 * 0.5× lie equally far from parity; a measure's bars are green where effect-faktory does
 * better and amber where it does worse, whichever way "better" points for that measure.
 */

/** One tool's repetitions of one measure. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

export interface ChartRow {
  readonly label: string
  /** `true` for rates, `false` for costs (latency, CPU, memory). */
  readonly higherIsBetter: boolean
  readonly ours: Spread
  readonly npm?: Spread | undefined
  readonly go?: Spread | undefined
}

interface Ratio {
  readonly median: number
  readonly low: number
  readonly high: number
}

export const ratioOf = (ours: Spread, theirs: Spread): Ratio | undefined => {
  if (theirs.median <= 0 || theirs.min <= 0 || theirs.max <= 0 || ours.median <= 0) return undefined
  return { median: ours.median / theirs.median, low: ours.min / theirs.max, high: ours.max / theirs.min }
}

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const layout = { width: 900, labelWidth: 330, rowHeight: 34, top: 56, bottom: 40, right: 70 } as const
const green = "#2e8b57"
const amber = "#d98b00"

/**
 * Renders the rows as a standalone SVG document. Ratios outside 1/8–8 are drawn at the edge,
 * with their value written beside them.
 */
export const render = (rows: ReadonlyArray<ChartRow>, title: string): string => {
  const plotLeft = layout.labelWidth
  const plotWidth = layout.width - layout.labelWidth - layout.right
  const limit = 8
  const x = (ratio: number) => {
    const clamped = Math.min(limit, Math.max(1 / limit, ratio))
    return plotLeft + ((Math.log2(clamped) + Math.log2(limit)) / (2 * Math.log2(limit))) * plotWidth
  }
  const height = layout.top + rows.length * layout.rowHeight + layout.bottom
  const parts: Array<string> = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${height}" viewBox="0 0 ${layout.width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${layout.width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${layout.width / 2}" y="38" text-anchor="middle" fill="#555">effect-faktory ÷ peer: ● ÷ npm, ◆ ÷ Go; bars span min–max; green where effect-faktory does better</text>`
  )
  for (const tick of [0.125, 0.25, 0.5, 1, 2, 4, 8]) {
    const at = x(tick).toFixed(1)
    const bottom = height - layout.bottom
    parts.push(
      `<line x1="${at}" y1="${layout.top - 6}" x2="${at}" y2="${bottom}" stroke="${tick === 1 ? "#333" : "#ddd"}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`,
      `<text x="${at}" y="${bottom + 16}" text-anchor="middle" fill="#555">${tick < 1 ? `1/${1 / tick}` : tick}×</text>`
    )
  }
  rows.forEach((row, index) => {
    const middle = layout.top + index * layout.rowHeight + layout.rowHeight / 2
    const direction = row.higherIsBetter ? "higher is better" : "lower is better"
    parts.push(
      `<text x="${plotLeft - 10}" y="${middle - 2}" text-anchor="end">${escapeXml(row.label)}</text>`,
      `<text x="${plotLeft - 10}" y="${middle + 11}" text-anchor="end" fill="#888" font-size="10">${direction}</text>`
    )
    const series: ReadonlyArray<readonly [Spread | undefined, number, "dot" | "diamond"]> = [
      [row.npm, -6, "dot"],
      [row.go, 6, "diamond"]
    ]
    for (const [theirs, offset, shape] of series) {
      if (theirs === undefined) continue
      const ratio = ratioOf(row.ours, theirs)
      if (ratio === undefined) continue
      const better = row.higherIsBetter ? ratio.median >= 1 : ratio.median <= 1
      const colour = better ? green : amber
      const y = middle + offset
      parts.push(
        `<line x1="${x(ratio.low).toFixed(1)}" y1="${y}" x2="${x(ratio.high).toFixed(1)}" y2="${y}" stroke="${colour}" stroke-width="3" stroke-opacity="0.45"/>`
      )
      const cx = x(ratio.median).toFixed(1)
      parts.push(
        shape === "dot"
          ? `<circle cx="${cx}" cy="${y}" r="4.5" fill="${colour}"/>`
          : `<path d="M ${cx} ${y - 5} l 5 5 l -5 5 l -5 -5 z" fill="${colour}"/>`,
        `<text x="${(x(ratio.high) + 6).toFixed(1)}" y="${y + 4}" fill="${colour}" font-size="10">${ratio.median.toFixed(2)}×</text>`
      )
    }
  })
  parts.push("</svg>")
  return `${parts.join("\n")}\n`
}

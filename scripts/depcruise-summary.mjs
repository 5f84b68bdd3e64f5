// Reads dependency-cruiser's JSON result on stdin and prints a summary a person can read:
// every violation grouped by rule, with cycles listed once each and type-only imports marked
// (they exist only before compilation: `import type` is erased from the emitted JavaScript).
// Exits 1 when a rule of severity error is broken, 2 when there is no result to read.
//
//   depcruise packages --config .dependency-cruiser.cjs --output-type json | node scripts/depcruise-summary.mjs
import { readFileSync } from "node:fs"

const input = readFileSync(0, "utf8")
let result
try {
  result = JSON.parse(input)
} catch {
  console.error("depcruise-summary: no dependency-cruiser result on stdin (did depcruise fail? run it alone to see why)")
  process.exit(2)
}
const { modules, summary } = result

/** Every import of one module by another, keyed "from\0to": whether each is type-only. */
const edges = new Map()
for (const module of modules) {
  for (const dependency of module.dependencies) {
    const key = `${module.source}\0${dependency.resolved}`
    const kinds = edges.get(key) ?? []
    kinds.push(dependency.dependencyTypes.includes("type-only"))
    edges.set(key, kinds)
  }
}
/** An edge is type-only when every import along it is `import type` / `export type`. */
const typeOnlyEdge = (from, to) => (edges.get(`${from}\0${to}`) ?? [false]).every(Boolean)

const totalDependencies = modules.reduce((n, m) => n + m.dependencies.length, 0)
const typeOnlyDependencies = modules.reduce(
  (n, m) => n + m.dependencies.filter((d) => d.dependencyTypes.includes("type-only")).length,
  0
)

const lines = []
const say = (line = "") => lines.push(line)
const arrow = (from, to) => (typeOnlyEdge(from, to) ? " ⇢(type) " : " → ")

const own = modules.filter((m) => /^packages\/[^/]+\/(src|test)\//.test(m.source)).length
say(
  `dependency-cruiser: ${summary.totalCruised} modules (${own} in packages/*/src and packages/*/test), ` +
    `${totalDependencies} imports (${typeOnlyDependencies} type-only) cruised`
)
say()

// Cycles: each reported once, as the shortest cycle through one of its imports; the same
// cycle may be found from several of its modules, so they are put in one rotation to dedupe.
const violations = summary.violations
const cycleViolations = violations.filter((v) => v.type === "cycle")
const cycles = new Map()
for (const violation of cycleViolations) {
  const path = [violation.from, ...violation.cycle.map((step) => step.name)]
  path.pop() // the cycle ends where it started
  const start = path.indexOf([...path].sort()[0])
  const rotated = [...path.slice(start), ...path.slice(0, start)]
  const key = rotated.join("\0")
  if (!cycles.has(key)) cycles.set(key, { path: rotated, rule: violation.rule })
}
const cycleList = [...cycles.values()].map(({ path, rule }) => {
  const hops = path.map((from, i) => [from, path[(i + 1) % path.length]])
  const typeOnlyHops = hops.filter(([from, to]) => typeOnlyEdge(from, to)).length
  return { path, rule, typeOnlyHops, hops: hops.length }
})
const withTypeOnly = cycleList.filter((c) => c.typeOnlyHops > 0).length
const allTypeOnly = cycleList.filter((c) => c.typeOnlyHops === c.hops).length
say(
  `Cycles: ${cycleList.length}` +
    (cycleList.length > 0
      ? ` (${withTypeOnly} through at least one type-only import, so absent at run time; ` +
        `${allTypeOnly} made of type-only imports alone; ${cycleList.length - withTypeOnly} present at run time too)`
      : "")
)
cycleList.forEach(({ path, rule, typeOnlyHops }, i) => {
  const shown = path.map((from, j) => from + arrow(from, path[(j + 1) % path.length])).join("") + path[0]
  say(`  ${i + 1}. [${rule.name}] ${shown}${typeOnlyHops > 0 ? "   (type-only)" : ""}`)
})

// Tangles: the strongly connected components among the packages' own modules, once with
// every import and once with run-time imports only. A cycle-free graph has none.
const local = new Set(modules.filter((m) => /^packages\/[^/]+\/(src|test)\//.test(m.source)).map((m) => m.source))
const tangles = (keep) => {
  const next = new Map([...local].map((s) => [s, []]))
  for (const key of edges.keys()) {
    const [from, to] = key.split("\0")
    if (local.has(from) && local.has(to) && keep(from, to)) next.get(from).push(to)
  }
  // Tarjan's algorithm.
  let index = 0
  const indexOf = new Map(), low = new Map(), stack = [], onStack = new Set(), found = []
  const visit = (v) => {
    indexOf.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v)) {
      if (!indexOf.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), indexOf.get(w)))
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component = []
      let w
      do {
        w = stack.pop()
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of local) if (!indexOf.has(v)) visit(v)
  return found
}
const allTangles = tangles(() => true)
const runtimeTangles = tangles((from, to) => !typeOnlyEdge(from, to))
const describeTangles = (found) =>
  found.length === 0 ? "none" : found.map((c) => `{${c.join(", ")}}`).join("; ")
say(`Tangles (modules on a cycle together): ${allTangles.length}: ${describeTangles(allTangles)}`)
say(`  counting run-time imports only: ${runtimeTangles.length}: ${describeTangles(runtimeTangles)}`)
say()

// Every other rule, grouped; the layer rules together.
const isLayerRule = (name) => name.startsWith("core-layer-") && name !== "core-layer-unassigned"
const others = violations.filter((v) => v.type !== "cycle")
const byRule = new Map()
for (const violation of others) {
  const list = byRule.get(violation.rule.name) ?? []
  list.push(violation)
  byRule.set(violation.rule.name, list)
}
const showViolation = (v) =>
  `    ${v.from} → ${v.to}${v.to !== v.unresolvedTo && v.unresolvedTo ? ` (${v.unresolvedTo})` : ""}` +
  `${v.dependencyTypes?.includes("type-only") ? "   (type-only)" : ""}`
const countLine = (list) => {
  const typeOnly = list.filter((v) => v.dependencyTypes?.includes("type-only")).length
  return `${list.length}${list.length > 0 ? ` (${typeOnly} type-only)` : ""}`
}

const layerViolations = others.filter((v) => isLayerRule(v.rule.name))
const layerRuleCount = (summary.ruleSetUsed?.forbidden ?? []).filter((r) => isLayerRule(r.name)).length
say(`Upward imports between core's layers (${layerRuleCount} core-layer-* rules): ${countLine(layerViolations)}`)
for (const [name, list] of byRule) {
  if (!isLayerRule(name)) continue
  const rule = (summary.ruleSetUsed?.forbidden ?? []).find((r) => r.name === name)
  say(`  ${name} (${list.length}): ${rule?.comment?.split(". ")[0] ?? ""}`)
  for (const v of list) say(showViolation(v))
}
say()

const ruleNames = (summary.ruleSetUsed?.forbidden ?? [])
  .map((r) => r.name)
  .filter((name) => name !== "no-circular" && !isLayerRule(name))
for (const name of ruleNames) {
  const list = byRule.get(name) ?? []
  say(`${name}: ${countLine(list)}`)
  for (const v of list) say(showViolation(v))
}
for (const [name, list] of byRule) {
  if (isLayerRule(name) || ruleNames.includes(name)) continue
  say(`${name}: ${countLine(list)}`)
  for (const v of list) say(showViolation(v))
}
say()

const errors = summary.error
const warnings = summary.warn
const typeOnlyViolations = violations.filter((v) =>
  v.type === "cycle"
    ? [v.from, ...v.cycle.map((s) => s.name)].some((from, i, all) => i < all.length - 1 && typeOnlyEdge(from, all[i + 1]))
    : v.dependencyTypes?.includes("type-only")
).length
say(
  errors + warnings === 0
    ? "✔ no dependency violations"
    : `${errors > 0 ? "✖" : "⚠"} ${violations.length} violations: ${errors} errors, ${warnings} warnings ` +
      `(${typeOnlyViolations} of them type-only)`
)
console.log(lines.join("\n"))
process.exit(errors > 0 ? 1 : 0)

// @ts-check
/* global module */
/**
 * dependency-cruiser rules for effect-faktory: `npm run lint:deps`.
 *
 * Scans packages/{name}/src and packages/{name}/test (TypeScript, type-only imports included).
 * `@effect-faktory/*` imports resolve to the packages' sources through
 * tsconfig.depcruise.json, so rules see which package a dependency lands in.
 *
 *  1. no-circular                 no cycles anywhere, type-only imports included
 *  2. no-cross-package-internal   packages/A must not import packages/B/{src,dist}/internal/**
 *  3. core-platform-free(-builtins)  core's src imports no Node platform, no node: builtins,
 *                                 neither @effect-faktory/node nor @effect-faktory/testing
 *  4. core-layer-<low>-imports-<high>  core's src imports only from its own layer or lower ones
 *  5. core-not-to-app-packages    core's src imports none of the workspace's applications
 *                                 (packages/examples, packages/bench, packages/reliability)
 *  6. tests (packages/{name}/test/**) are exempt from 2-5, not from 1
 * and two guards: core-layer-unassigned (warn: a core module in no layer) and
 * not-to-unresolvable(-in-tests) (error). scripts/depcruise-summary.mjs prints the result.
 */

/**
 * The layers of packages/core/src, low to high. Each entry is a path relative to
 * packages/core/src: a file, or a folder ending in "/" for everything below it. Peers within a
 * layer may import each other; index.ts is in no layer and may import anything.
 */
const CORE_LAYERS = [
  { name: "base", paths: ["Errors.ts", "FaktoryUrl.ts", "internal/shared/"] },
  {
    name: "wire",
    paths: ["Resp.ts", "JobPayload.ts", "ServerInfo.ts", "Enterprise.ts", "Replies.ts", "Protocol.ts", "internal/wire/"]
  },
  { name: "observability", paths: ["Metrics.ts", "TraceContext.ts", "Tracing.ts", "internal/observability/"] },
  { name: "connection", paths: ["Transport.ts", "Connection.ts", "ConnectionPool.ts"] },
  { name: "client", paths: ["Client.ts", "DefaultClient.ts", "internal/client/"] },
  { name: "job", paths: ["JobHandler.ts", "Job.ts", "Contract.ts", "Batch.ts", "Tracking.ts", "internal/job/"] },
  { name: "runner", paths: ["JobRunner.ts", "internal/runner/"] },
  { name: "worker", paths: ["Worker.ts", "internal/worker/"] }
]

const CORE_SRC = "^packages/core/src/"
const TESTS = "^packages/[^/]+/test/"

const escape = (/** @type {string} */ text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
/** One regular expression for a set of layer paths. */
const layerPattern = (/** @type {ReadonlyArray<string>} */ paths) =>
  `${CORE_SRC}(${paths.map((p) => (p.endsWith("/") ? `${escape(p)}.+` : `${escape(p)}$`)).join("|")})`

/** @type {import("dependency-cruiser").IForbiddenRuleType[]} */
const layerRules = CORE_LAYERS.flatMap((low, i) =>
  CORE_LAYERS.slice(i + 1).map((high, j) => ({
    name: `core-layer-${low.name}-imports-${high.name}`,
    comment:
      `Upward import in packages/core/src: layer L${i} ${low.name} imports layer L${i + 1 + j} ${high.name}. ` +
      "A layer may import only its own layer and lower ones " +
      `(${CORE_LAYERS.map((l, k) => `L${k} ${l.name}`).join(" < ")}); see CORE_LAYERS in .dependency-cruiser.cjs.`,
    severity: /** @type {const} */ ("error"),
    from: { path: layerPattern(low.paths) },
    to: { path: layerPattern(high.paths) }
  }))
)

/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment:
        "A cycle of imports (type-only imports count: tsPreCompilationDeps). Break it by moving what both " +
        "sides need into a lower module.",
      severity: "error",
      from: {},
      to: { circular: true }
    },
    {
      name: "no-cross-package-internal",
      comment:
        "A package imports another package's internal/ modules. Those are not public " +
        '(package.json exports "./internal/*": null); import from the package\'s entry instead.',
      severity: "error",
      from: { path: "^packages/([^/]+)/", pathNot: TESTS },
      to: {
        path: "^(packages|node_modules/@effect-faktory)/[^/]+/(src|dist)/internal/",
        pathNot: "^(packages|node_modules/@effect-faktory)/$1/"
      }
    },
    {
      name: "core-platform-free",
      comment:
        "@effect-faktory/core is platform-free: its src must not import @effect/platform-node(-shared), " +
        "@effect-faktory/node or @effect-faktory/testing (they depend on core, not the other way round).",
      severity: "error",
      from: { path: CORE_SRC },
      to: {
        path: [
          "(^|/)node_modules/@effect/platform-node(-shared)?/",
          "^@effect/platform-node(-shared)?($|/)",
          "^packages/(node|testing)/",
          "(^|/)node_modules/@effect-faktory/(node|testing)($|/)",
          "^@effect-faktory/(node|testing)($|/)"
        ]
      }
    },
    {
      name: "core-platform-free-builtins",
      comment:
        "@effect-faktory/core is platform-free: its src must not import Node's built-in modules (node:*); " +
        "platform code belongs in @effect-faktory/node behind the Transport service.",
      severity: "error",
      from: { path: CORE_SRC },
      to: { dependencyTypes: ["core"] }
    },
    {
      name: "core-not-to-app-packages",
      comment:
        "@effect-faktory/core's src must not import the workspace's applications (examples, bench, " +
        "reliability): they are built on core, are not published, and would pull their code into core.",
      severity: "error",
      from: { path: CORE_SRC },
      to: {
        path: [
          "^packages/(examples|bench|reliability)/",
          "(^|/)node_modules/@effect-faktory/(examples|bench|reliability)($|/)",
          "^@effect-faktory/(examples|bench|reliability)($|/)"
        ]
      }
    },
    ...layerRules,
    // Reported once per import of the unassigned module (a warning: the exit code stays 0).
    {
      name: "core-layer-unassigned",
      comment:
        "A module of packages/core/src that is in no layer of CORE_LAYERS (.dependency-cruiser.cjs): " +
        "the layer rules cannot check it. Add it to a layer.",
      severity: "warn",
      from: {
        path: CORE_SRC,
        pathNot: [`${CORE_SRC}index\\.ts$`, ...CORE_LAYERS.map((l) => layerPattern(l.paths))]
      },
      to: {}
    },
    {
      name: "not-to-unresolvable",
      // Also a guard for this configuration: an import that does not resolve matches no path,
      // so a broken resolution would otherwise let the rules above pass without looking.
      comment: "An import that does not resolve: a missing file, or a package not installed.",
      severity: "error",
      from: { pathNot: TESTS },
      to: { couldNotResolve: true }
    },
    {
      // The same for tests, but for one thing: a test may import its package's build output by
      // a relative path (packages/core/test/Handshake.test.ts → ../dist/internal/wire/handshake.js;
      // the tests run after `tsc -b`). On a fresh clone, as in CI's lint step, there is no dist/
      // yet. Built or not, dist/ is not followed, so the graph is the same either way.
      name: "not-to-unresolvable-in-tests",
      comment: "An import in a test that does not resolve: a missing file, or a package not installed.",
      severity: "error",
      from: { path: TESTS },
      to: { couldNotResolve: true, pathNot: "^(\\.\\./)+dist/" }
    }
  ],
  options: {
    // What is scanned: the sources and tests of every package. Anything else (dist/, the
    // packages' other folders, node_modules) appears as a dependency but is not followed.
    doNotFollow: {
      path: ["(^|/)node_modules/", "(^|/)dist/", "^packages/[^/]+/(?!(src|test)(/|$))"]
    },
    moduleSystems: ["es6", "cjs"],
    // Parse TypeScript as written, so that `import type` counts: with the default (false) the
    // files are transpiled first and type-only imports vanish from the graph.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.depcruise.json" },
    // Packages resolve as Node resolves them at run time. Not "types": a package whose exports
    // list "types" first would resolve to its .d.ts file instead of its code.
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
      mainFields: ["module", "main"]
    },
    skipAnalysisNotInRules: true
  }
}

/**
 * The engine runs unchanged in a browser: `browser-entry.ts` is bundled with esbuild for the browser
 * platform (with a guard against Node built-ins) and run in headless Chromium through playwright-core.
 *
 * Chromium must be installed at /usr/bin/chromium (`apt-get install -y chromium`): without it this test
 * fails rather than skips.
 */
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { builtinModules } from "node:module"
import { fileURLToPath } from "node:url"
import { build, type Metafile, type Plugin } from "esbuild"
import { type Browser, chromium } from "playwright-core"
import { afterAll, describe, expect, it } from "vitest"
import { type DemoRun, demoOutputs, runDemo } from "./browser-entry.js"
import { persisted } from "./support.js"

const CHROMIUM = "/usr/bin/chromium"
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const entry = fileURLToPath(new URL("./browser-entry.ts", import.meta.url))

const builtins = new Set(builtinModules)

/** Whether an import specifier names a Node built-in module (`node:*`, `fs`, `fs/promises`, `path`…). */
const isNodeBuiltin = (specifier: string): boolean =>
  specifier.startsWith("node:") ||
  builtins.has(specifier) ||
  builtins.has(specifier.split("/")[0] ?? specifier)

/** A Go regular expression (esbuild filters are Go regexps) matching Node built-in specifiers. */
const builtinFilter = new RegExp(
  `^(node:.*|(${[...builtins].map((name) => name.split("/")[0]).join("|")})(/.*)?)$`,
)

/**
 * Keeps every Node built-in out of the bundle: esbuild must neither resolve it to a polyfill nor fail on it.
 * Each one is left external, so the metafile shows who imports it (see `externalImports`).
 */
const nodeBuiltinGuard: Plugin = {
  name: "weft-node-builtin-guard",
  setup(b) {
    b.onResolve({ filter: builtinFilter }, (args) =>
      isNodeBuiltin(args.path) ? { path: args.path, external: true } : undefined,
    )
  },
}

interface ExternalImport {
  readonly specifier: string
  readonly kind: string
  readonly nodeBuiltin: boolean
  /** The import chain from the entry to the specifier, repo-relative. */
  readonly chain: ReadonlyArray<string>
}

/** Every import the bundle leaves to its runtime, with the shortest chain that reaches it from the entry. */
const externalImports = (metafile: Metafile, entryPath: string): ReadonlyArray<ExternalImport> => {
  const parent = new Map<string, string | undefined>([[entryPath, undefined]])
  const queue = [entryPath]
  const found: Array<ExternalImport> = []
  const chainTo = (file: string): Array<string> => {
    const chain: Array<string> = []
    for (let at: string | undefined = file; at !== undefined; at = parent.get(at)) chain.unshift(at)
    return chain
  }
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const imp of metafile.inputs[file]?.imports ?? []) {
      if (imp.external === true) {
        found.push({
          specifier: imp.path,
          kind: imp.kind,
          nodeBuiltin: isNodeBuiltin(imp.path),
          chain: [...chainTo(file), imp.path],
        })
      } else if (!parent.has(imp.path)) {
        parent.set(imp.path, file)
        queue.push(imp.path)
      }
    }
  }
  // Anything external that the walk did not reach (it should not happen) is still reported.
  for (const [file, input] of Object.entries(metafile.inputs)) {
    if (parent.has(file)) continue
    for (const imp of input.imports) {
      if (imp.external === true)
        found.push({
          specifier: imp.path,
          kind: imp.kind,
          nodeBuiltin: isNodeBuiltin(imp.path),
          chain: [file],
        })
    }
  }
  return found
}

interface BrowserBundle {
  readonly code: string
  readonly externals: ReadonlyArray<ExternalImport>
}

/** Bundles the entry for the browser, in memory. `plugins` run before the guard. */
const bundleForBrowser = async (plugins: ReadonlyArray<Plugin> = []): Promise<BrowserBundle> => {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: repoRoot,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    conditions: ["source"],
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [...plugins, nodeBuiltinGuard],
  })
  const code = result.outputFiles[0]?.text ?? ""
  const entryPath = Object.keys(result.metafile.inputs).find((file) => file.endsWith("test/browser-entry.ts"))
  if (entryPath === undefined) throw new Error("the entry is missing from the esbuild metafile")
  return { code, externals: externalImports(result.metafile, entryPath) }
}

const describeExternals = (externals: ReadonlyArray<ExternalImport>): string =>
  externals
    .map(
      (e) =>
        `${e.nodeBuiltin ? "Node built-in" : "external"} ${e.specifier} (${e.kind}): ${e.chain.join(" -> ")}`,
    )
    .join("\n")

/** Adds `import "node:fs"` and `import "path"` to the engine's runGraph.ts as it is loaded. */
const injectNodeImports: Plugin = {
  name: "inject-node-imports",
  setup(b) {
    b.onLoad({ filter: /[\\/]engine[\\/]src[\\/]runGraph\.ts$/ }, async (args) => {
      const source = await readFile(args.path, "utf8")
      return { contents: `import "node:fs"\nimport "path"\n${source}`, loader: "ts" }
    })
  },
}

/** What an event must look like to compare a browser run with a Node run: no ids, no times. */
const shape = (event: DemoRun["events"][number]): string =>
  JSON.stringify([
    event.type,
    "nodeId" in event ? event.nodeId : "",
    "status" in event ? event.status : "",
    "pin" in event ? event.pin : "",
    "value" in event ? event.value : "",
  ])

/**
 * Points the `<anonymous>:line:col` frames of a stack thrown by the inline bundle at their source module, from
 * the `// path/to/module.ts` comments esbuild writes before each module (the first frame also gets its code).
 */
const annotateStack = (stack: string, code: string): string => {
  const lines = code.split("\n")
  let first = true
  return stack.replace(/<anonymous>:(\d+):(\d+)/g, (frame, line: string) => {
    const index = Number(line) - 1
    let module = "?"
    for (let i = index; i >= 0; i--) {
      const match = /^\/\/ (\S+\.[cm]?[jt]sx?)$/.exec(lines[i] ?? "")
      if (match !== null) {
        module = match[1] ?? module
        break
      }
    }
    const text = first ? `: ${(lines[index] ?? "").trim()}` : ""
    first = false
    return `${frame} [${module}${text}]`
  })
}

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless=new",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
]

interface PageRun {
  readonly published: Window["__weft"]
  readonly pageErrors: ReadonlyArray<string>
  readonly globals: {
    readonly href: string
    readonly isSecureContext: boolean
    readonly process: string
    readonly require: string
    readonly userAgent: string
  }
}

/**
 * Opens `url` (served by the test itself: nothing goes to the network), adds the bundle as a module script and
 * waits until it publishes its run on `window.__weft`.
 */
const runInPage = async (browser: Browser, url: string, code: string): Promise<PageRun> => {
  const page = await browser.newPage()
  try {
    const pageErrors: Array<string> = []
    page.on("pageerror", (error) => pageErrors.push(error.stack ?? error.message))
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`console.error: ${message.text()}`)
    })
    await page.route("**/*", (route) =>
      route.request().url() === url
        ? route.fulfill({
            contentType: "text/html",
            body: "<!doctype html><html><head><title>loading</title></head><body></body></html>",
          })
        : route.abort(),
    )
    await page.goto(url)
    await page.addScriptTag({ content: code, type: "module" })
    await page
      .waitForFunction(() => document.title === "done" || document.title === "error", undefined, {
        timeout: 30_000,
      })
      .catch((error: unknown) => {
        throw new Error(`the run did not finish in the page: ${String(error)}\n${pageErrors.join("\n")}`)
      })
    const published = await page.evaluate(() => window.__weft)
    const globals = await page.evaluate(() => ({
      href: location.href,
      isSecureContext,
      process: typeof (globalThis as { process?: unknown }).process,
      require: typeof (globalThis as { require?: unknown }).require,
      userAgent: navigator.userAgent,
    }))
    return { published, pageErrors, globals }
  } finally {
    await page.close()
  }
}

describe("@weft/engine in a browser", () => {
  let browser: Browser | undefined
  let bundle: Promise<BrowserBundle> | undefined

  /** The browser, launched once for the tests that need it. Fails (never skips) when Chromium is missing. */
  const launch = async (): Promise<Browser> => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\` ` +
          "(CI installs it in .ci/run). This test never downloads a browser.",
      )
    }
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    return browser
  }
  const browserBundle = (): Promise<BrowserBundle> => {
    bundle ??= bundleForBrowser()
    return bundle
  }

  afterAll(async () => {
    await browser?.close()
  }, 30_000)

  it("bundles for the browser platform with no Node built-in and nothing external", async () => {
    const { code, externals } = await browserBundle()
    expect(code.length).toBeGreaterThan(0)
    expect(externals, `the browser bundle imports:\n${describeExternals(externals)}`).toEqual([])
  })

  it("the guard reports a Node built-in imported by the engine, with its import chain", async () => {
    const { externals } = await bundleForBrowser([injectNodeImports])
    expect(externals.map((e) => [e.specifier, e.nodeBuiltin, e.chain])).toEqual([
      [
        "node:fs",
        true,
        [
          "packages/engine/test/browser-entry.ts",
          "packages/engine/src/index.ts",
          "packages/engine/src/runGraph.ts",
          "node:fs",
        ],
      ],
      [
        "path",
        true,
        [
          "packages/engine/test/browser-entry.ts",
          "packages/engine/src/index.ts",
          "packages/engine/src/runGraph.ts",
          "path",
        ],
      ],
    ])
  })

  // https pages (and http://localhost) are secure contexts; a plain-http page (like about:blank) is not, and
  // lacks the secure-context-only APIs such as `crypto.randomUUID`. The engine must run in both.
  for (const [context, url, secure] of [
    ["a secure context (https page)", "https://weft.test/", true],
    ["a non-secure context (plain-http page)", "http://weft.test/", false],
  ] as const) {
    it(`runs a graph in headless Chromium, in ${context}, exactly as in Node`, {
      timeout: 60_000,
    }, async () => {
      const { code, externals } = await browserBundle()
      expect(externals, `the browser bundle imports:\n${describeExternals(externals)}`).toEqual([])

      const { published, pageErrors, globals } = await runInPage(await launch(), url, code)
      if (published === undefined || "error" in published) {
        throw new Error(
          `the run failed in the page ${globals.href} (isSecureContext: ${globals.isSecureContext}): ` +
            annotateStack(published?.error ?? "nothing published", code),
        )
      }
      expect(pageErrors).toEqual([])
      // A real browser global scope, with no Node `process` or `require` shimmed in.
      expect(globals).toMatchObject({
        href: url,
        isSecureContext: secure,
        process: "undefined",
        require: "undefined",
      })
      expect(globals.userAgent).toMatch(/Chrome/)

      const { result, events } = published
      expect(result.status).toBe("COMPLETED")
      expect(result.outputs).toEqual(demoOutputs)
      expect(result.error).toBeUndefined()

      const seqs = persisted(events).map((e) => e.seq)
      expect(seqs.length).toBeGreaterThan(0)
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
      expect(events.every((e) => e.runId === result.runId)).toBe(true)
      const last = events.at(-1)
      expect(last?.type === "RunStatus" ? last.status : last?.type).toBe("COMPLETED")

      // The same entry, run in Node, gives the same outputs and the same events (ids and times aside).
      const inNode = await runDemo()
      expect(inNode.result.status).toBe("COMPLETED")
      expect(inNode.result.outputs).toEqual(result.outputs)
      expect(events.map(shape).sort()).toEqual(inNode.events.map(shape).sort())
    })
  }
})

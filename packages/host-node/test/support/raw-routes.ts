/**
 * The routes served beside `WeftApi`: plain router routes (`HttpRouter.add(…)` or `router.add(…)`) such as
 * the WebSocket, the webhook receiver, the operations routes and better-auth's routes. They are not in the
 * API declaration, so they are found in the sources: each as `<METHOD> <path expression>` exactly as written
 * (`GET METRICS_PATH`, ``POST `${WEBHOOKS_PATH}/:id` ``). A test keyed by these strings fails when a new raw
 * route appears without a sample.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const SRC = fileURLToPath(new URL("../../src", import.meta.url))

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  )

/** `.add("GET", PATH, …)` on the router, the method and the path expression as written. */
const ADD = /\b(?:HttpRouter|router)\.add\(\s*"([A-Z]+|\*)",\s*([^,\n]+?),/g

/** Every raw route of the host's sources, as `<METHOD> <path expression>`, sorted. */
export const rawRoutes = (): ReadonlyArray<string> =>
  sourceFiles(SRC)
    .flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(ADD)].map((match) => `${match[1]} ${(match[2] ?? "").trim()}`),
    )
    .sort()

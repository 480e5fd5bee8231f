/**
 * `@weft/blocks`: the core block library of Weft, the one safe outbound HTTP client, AutoGPT import and
 * export, and the `weft` CLI.
 *
 * @since 0.1.0
 */
import { Block } from "@weft/engine"
import { allBlocks } from "./blocks/index.generated.js"

/**
 * Every core block, as one block set (one file per block under `src/blocks/<category>/`).
 *
 * @category blocks
 */
export const coreBlocks: Block.BlockSet = Block.set("weft-core", allBlocks)

export * from "./ai/index.js"
export * from "./autogpt/index.js"
export { runAsProgram } from "./cli/program.js"
export * from "./http/index.js"
export { renderTemplate, TemplateError } from "./templates/index.js"

/**
 * Everything heavy the commands use (the block library, the importer, the HTTP client), in one module that
 * a command loads once it has read its file: a bad file or bad arguments are reported without loading any
 * block.
 *
 * @since 0.1.0
 */
export { coreBlockRegistry, exportAutoGPT, importAutoGPT } from "../autogpt/index.js"
export { SafeHttp, SafeHttpClient } from "../http/index.js"
export { coreBlocks } from "../index.js"
export { environmentCredentials, withEnvironmentCredentials } from "./host.js"

/** The library module, loaded on first use. */
export type Library = typeof import("./library.js")

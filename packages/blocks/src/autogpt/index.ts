/**
 * AutoGPT Platform compatibility: import AutoGPT graph exports as Weft graphs, and export Weft graphs in
 * AutoGPT's format.
 *
 * @since 0.1.0
 */

export {
  type CredentialSlot,
  type CredentialsRefJson,
  missingCredentials,
  providerOf,
  withCredentials,
} from "./credentials.js"
export {
  type AutoGPTGraphJson,
  type AutoGPTLinkJson,
  type AutoGPTNodeJson,
  autoGPTBlockId,
  type ExportOptions,
  exportAutoGPT,
} from "./export.js"
export {
  AutoGPTFormatError,
  type AutoGPTGraph,
  type AutoGPTLink,
  type AutoGPTNode,
  decodeAutoGPT,
  isAutoGPTExport,
} from "./format.js"
export {
  type BlockNames,
  coreBlockRegistry,
  type GraphValidation,
  type ImportOptions,
  type ImportReport,
  type ImportResult,
  importAutoGPT,
  type MissingBlock,
  type NeededCredentials,
  type NodeReport,
} from "./import.js"
export {
  AGENT_EXECUTOR_BLOCK_ID,
  type SubGraphRef,
  type SubGraphResolution,
} from "./subgraphs.js"

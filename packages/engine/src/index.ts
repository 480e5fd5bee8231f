/**
 * `@weft/engine`: the graph model, the block contract, the registry, validation and the Effect-based
 * executor of Weft. Pure TypeScript with no I/O of its own: it runs in Node and in the browser.
 *
 * @since 0.1.0
 */

export type {
  AnyBlock,
  BlockContext,
  BlockResources,
  CredentialResolver,
  CredentialsRequirement,
  ResolvedCredentials,
} from "./Block.js"
export * as Block from "./Block.js"
export * from "./BlockRegistry.js"
export * as DynamicPins from "./DynamicPins.js"
export * from "./Errors.js"
export * from "./Executor.js"
export * from "./Graph.js"
export * as GraphDoc from "./GraphDoc.js"
export * from "./GraphLoader.js"
export * from "./RunEvent.js"
export * from "./RunStore.js"
export * from "./runBlock.js"
export * from "./runGraph.js"
export * from "./Status.js"
export * from "./Validation.js"

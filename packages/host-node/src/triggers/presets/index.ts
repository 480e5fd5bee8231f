/**
 * Presets: saved inputs and credential references for a graph, executed as a run of their owner.
 *
 * @since 0.1.0
 */

export * from "./PresetStore.js"
export * from "./Presets.js"
export { PresetsApi } from "./PresetsApi.js"
export * as RunTemplate from "./RunTemplate.js"

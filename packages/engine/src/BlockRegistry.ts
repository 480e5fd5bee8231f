/**
 * The block registry: every block the engine can run, by id and by alias.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { AnyBlock, BlockSet } from "./Block.js"
import { BlockNotFound, DuplicateBlockId } from "./Errors.js"

/**
 * The registry's interface.
 *
 * @category models
 */
export interface BlockRegistryShape {
  /** The block with this id or alias, or `undefined`. */
  readonly get: (id: string) => AnyBlock | undefined
  /** The block with this id or alias. */
  readonly resolve: (id: string) => Effect.Effect<AnyBlock, BlockNotFound>
  /** Every block, once each, in registration order. */
  readonly list: () => ReadonlyArray<AnyBlock>
  /** Why the block with this id or alias must not run (`Block.disabled`, or the registry's option), if so. */
  readonly disabled: (id: string) => string | undefined
}

/**
 * Options of a registry.
 *
 * @category models
 */
export interface RegistryOptions {
  /** Block ids or aliases that must not run here (an operator's choice), besides blocks marked `disabled`. */
  readonly disabled?: ReadonlyArray<string>
}

/**
 * Builds a registry from block sets; fails with `DuplicateBlockId` when two blocks (or aliases) share an id.
 *
 * @category constructors
 */
export const makeRegistry = (
  sets: ReadonlyArray<BlockSet>,
  options: RegistryOptions = {},
): Effect.Effect<BlockRegistryShape, DuplicateBlockId> =>
  Effect.suspend(() => {
    const byId = new Map<string, { block: AnyBlock; owner: string }>()
    const blocks: Array<AnyBlock> = []
    for (const set of sets) {
      for (const block of set.blocks) {
        const owner = `${set.name}/${block.id}`
        for (const id of [block.id, ...(block.aliases ?? [])]) {
          const existing = byId.get(id)
          if (existing !== undefined) {
            return Effect.fail(new DuplicateBlockId({ blockId: id, first: existing.owner, second: owner }))
          }
          byId.set(id, { block, owner })
        }
        blocks.push(block)
      }
    }
    const get = (id: string) => byId.get(id)?.block
    const turnedOff = new Set<AnyBlock>()
    for (const id of options.disabled ?? []) {
      const block = get(id)
      if (block !== undefined) turnedOff.add(block)
    }
    return Effect.succeed<BlockRegistryShape>({
      disabled: (id) => {
        const block = get(id)
        if (block === undefined) return undefined
        return block.disabled ?? (turnedOff.has(block) ? "disabled on this server" : undefined)
      },
      get,
      resolve: (id) => {
        const block = get(id)
        return block === undefined ? Effect.fail(new BlockNotFound({ blockId: id })) : Effect.succeed(block)
      },
      list: () => blocks,
    })
  })

/**
 * The block registry service.
 *
 * @category services
 */
export class BlockRegistry extends Context.Service<BlockRegistry, BlockRegistryShape>()(
  "@weft/engine/BlockRegistry",
) {
  /**
   * A registry built from block sets.
   *
   * @category layers
   */
  static readonly layer = (
    sets: ReadonlyArray<BlockSet>,
    options: RegistryOptions = {},
  ): Layer.Layer<BlockRegistry, DuplicateBlockId> => Layer.effect(BlockRegistry, makeRegistry(sets, options))
}

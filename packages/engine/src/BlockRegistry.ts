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
}

/**
 * Builds a registry from block sets; fails with `DuplicateBlockId` when two blocks (or aliases) share an id.
 *
 * @category constructors
 */
export const makeRegistry = (
  sets: ReadonlyArray<BlockSet>,
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
    return Effect.succeed<BlockRegistryShape>({
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
  static readonly layer = (sets: ReadonlyArray<BlockSet>): Layer.Layer<BlockRegistry, DuplicateBlockId> =>
    Layer.effect(BlockRegistry, makeRegistry(sets))
}

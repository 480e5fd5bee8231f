/**
 * The blocks routes: the block catalogue with JSON Schemas, and single-block execution.
 *
 * @since 0.1.0
 */
import { runBlockEffect } from "@weft/engine"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { RunService } from "../RunService.js"
import { WeftApi } from "./Api.js"
import { badRequest, Conflict, NotFound } from "./Errors.js"

/**
 * The blocks handlers.
 *
 * @category handlers
 */
export const BlocksLive = HttpApiBuilder.group(WeftApi, "blocks", (handlers) =>
  Effect.gen(function* () {
    const { registry, resources } = yield* RunService
    const disabledOf = (id: string): { readonly disabled?: string } => {
      const reason = registry.disabled(id)
      return reason === undefined ? {} : { disabled: reason }
    }
    const catalogue = registry.list().map((block) => ({
      id: block.id,
      version: block.version,
      title: block.title,
      description: block.description,
      categories: [...block.categories],
      aliases: [...(block.aliases ?? [])],
      kind: block.kind,
      inputSchema: block.inputJsonSchema(),
      outputSchema: block.outputJsonSchema(),
      ...disabledOf(block.id),
    }))
    return handlers
      .handle("list", () => Effect.succeed(catalogue))
      .handle("execute", ({ params, payload }) =>
        Effect.gen(function* () {
          const block = registry.get(params.id)
          if (block === undefined) return yield* Effect.fail(new NotFound({ error: `No block ${params.id}` }))
          if (block.kind === "note") {
            return yield* Effect.fail(
              badRequest("This block does not run", { id: "a note block never runs" }),
            )
          }
          const disabled = registry.disabled(params.id)
          const outputs = yield* runBlockEffect(block, payload.input, {
            resources,
            ...(disabled === undefined ? {} : { disabled }),
          }).pipe(
            Effect.mapError((failure) =>
              failure._tag === "BlockDisabled"
                ? new Conflict({ error: failure.message })
                : badRequest("Invalid block input", {
                    [failure.field === undefined ? "input" : `input.${failure.field}`]: failure.message,
                  }),
            ),
          )
          return { outputs: outputs.map(([pin, value]) => ({ pin, value })) }
        }),
      )
  }),
)

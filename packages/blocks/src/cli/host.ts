/**
 * What the CLI does as the host of a run: credentials from the environment.
 *
 * AutoGPT exports carry no credentials. The CLI fills every empty credential field with a reference to the
 * provider's key in the environment (`openai` → `OPENAI_API_KEY`) and resolves references to those keys.
 *
 * @since 0.1.0
 */
import type { CredentialResolver, Graph } from "@weft/engine"
import { type CredentialSlot, coreBlockRegistry, providerOf, withCredentials } from "../autogpt/index.js"

/**
 * The environment variable holding a provider's key: `openai` → `OPENAI_API_KEY`.
 *
 * @category credentials
 */
export const keyVariable = (provider: string): string =>
  `${provider.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}_API_KEY`

const environmentRef = ({ requirement }: CredentialSlot) => {
  const provider = providerOf(requirement)
  return {
    id: `env:${provider}`,
    provider,
    type: requirement.type,
    title: `${keyVariable(provider)} from the environment`,
  }
}

/**
 * The graph with its empty credential fields referring to the environment's keys.
 *
 * @category credentials
 */
export const withEnvironmentCredentials = (graph: Graph): Graph =>
  withCredentials(graph, coreBlockRegistry(), environmentRef)

/**
 * Resolves every credential reference to the provider's key in the environment (empty when unset: the AI
 * blocks then use their own settings).
 *
 * @category credentials
 */
export const environmentCredentials: CredentialResolver = (ref, { requirement }) => ({
  provider: ref.provider,
  type: requirement.type,
  secret: process.env[keyVariable(ref.provider)] ?? "",
})

/**
 * The safe outbound HTTP client, its service key for `ExecutorConfig.resources`, and the helper blocks use
 * to get it.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * const client = new SafeHttpClient({ allow: ["10.0.0.0/8"] })
 * await runGraph(graph, { blocks: [coreBlocks], resources: Context.make(SafeHttp, client) })
 * ```
 *
 * @since 0.1.0
 */
import type { BlockResources } from "@weft/engine"
import { Context } from "effect"
import { SafeHttpClient } from "./SafeHttpClient.js"

export {
  blockedReason,
  formatIp,
  type IpAddress,
  isLocalhostName,
  makeAllowList,
  parseCidr,
  parseIp,
} from "./address.js"
export {
  HttpAborted,
  type HttpError,
  HttpFailed,
  HttpRefused,
  HttpTimeout,
  HttpTooLarge,
  isHttpError,
  TooManyRedirects,
} from "./errors.js"
export {
  type ConnectionInfo,
  displayUrl,
  type HttpRequest,
  type HttpResponse,
  type HttpStreamResponse,
  type JsonValue,
  type Resolver,
  SafeHttpClient,
  type SafeHttpClientOptions,
} from "./SafeHttpClient.js"

/**
 * The service key of the safe HTTP client. A host configures a client (allow-list, limits) and hands it to
 * every block through the executor's resources: `resources: Context.make(SafeHttp, client)`.
 *
 * @category services
 */
export class SafeHttp extends Context.Service<SafeHttp, SafeHttpClient>()("@weft/blocks/SafeHttp") {}

let defaultClient: SafeHttpClient | undefined

/**
 * The client a block should use: the one the host put in `ctx.resources`, or a default client (no
 * allow-list, default limits).
 *
 * @category services
 */
export const httpClientFor = (ctx: { readonly resources: BlockResources }): SafeHttpClient => {
  const configured = Context.getOrUndefined(ctx.resources, SafeHttp)
  if (configured !== undefined) return configured
  defaultClient ??= new SafeHttpClient()
  return defaultClient
}

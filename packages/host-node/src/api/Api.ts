/**
 * The Weft HTTP API as one `HttpApi` declaration: every route, the schemas that decode its path, query,
 * headers and body, and the schemas of its answers. The server decodes requests with these schemas and
 * `/api/openapi.json` is generated from them, so the document and the behaviour cannot drift apart.
 *
 * Request bodies are strict: an unknown field is refused with 400, naming it.
 *
 * @since 0.1.0
 */
import { Graph, Link, Node, Status } from "@weft/engine"
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Authentication } from "../Auth.js"
import { RateLimited } from "../auth/rate-limit.js"
import { PublicRoute, RequiredScope } from "../auth/scopes.js"
import { CredentialsApi } from "../credentials/CredentialsApi.js"
import { PresetsApi } from "../triggers/presets/PresetsApi.js"
import { SchedulesApi } from "../triggers/schedules/SchedulesApi.js"
import { WebhooksApi } from "../triggers/webhooks/WebhooksApi.js"
import { ApiKeysApi } from "./ApiKeys.js"
import { BadRequest, Conflict, NotFound, RequestValidation, Unprocessable } from "./Errors.js"
import { Id, isStorableText, Text, Version, VersionParam } from "./fields.js"

/** Any JSON object. */
const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

// ---------------------------------------------------------------------------------------------------------
// Blocks

/**
 * A block as the palette shows it: its pins as JSON Schemas.
 *
 * @category schemas
 */
export const BlockInfo = Schema.Struct({
  id: Schema.String,
  version: Schema.Number,
  title: Schema.String,
  description: Schema.String,
  categories: Schema.Array(Schema.String),
  aliases: Schema.Array(Schema.String),
  kind: Schema.Literals(["standard", "input", "output", "note"]),
  inputSchema: JsonObject,
  outputSchema: JsonObject,
  /** Why the block must not run on this server; absent for blocks that run. */
  disabled: Schema.optionalKey(Schema.String),
})

/**
 * The body of `POST /api/blocks/:id/execute`.
 *
 * @category schemas
 */
export const BlockExecuteRequest = Schema.Struct({ input: JsonObject })

/**
 * One output of a single-block execution, in yield order. A failure is the last one, on the pin `error`.
 *
 * @category schemas
 */
export const BlockOutput = Schema.Struct({ pin: Schema.String, value: Schema.Unknown })

// ---------------------------------------------------------------------------------------------------------
// Graphs

/**
 * A Weft graph as uploaded. `id` and `version` are ignored (the server assigns them); `subGraphs` are the
 * graphs its agent-executor nodes run.
 *
 * @category schemas
 */
export const WeftGraphUpload = Schema.Struct({
  id: Schema.optionalKey(Schema.String),
  version: Schema.optionalKey(Schema.Number),
  name: Text,
  description: Schema.optionalKey(Text),
  nodes: Schema.Array(Node),
  links: Schema.Array(Link),
  subGraphs: Schema.optionalKey(Schema.Array(Graph)),
}).annotate({ identifier: "WeftGraphUpload", title: "Weft graph" })

const AutoGPTNodeUpload = Schema.StructWithRest(
  Schema.Struct({
    id: Schema.String,
    block_id: Schema.String,
    input_default: Schema.optionalKey(Schema.NullOr(JsonObject)),
  }),
  [JsonObject],
)

/**
 * An AutoGPT Platform graph export (the current format with `sub_graphs`, or the older template format).
 * Fields Weft does not use are accepted and ignored.
 *
 * @category schemas
 */
export const AutoGPTExportUpload = Schema.StructWithRest(
  Schema.Struct({
    id: Schema.String,
    nodes: Schema.Array(AutoGPTNodeUpload),
  }),
  [JsonObject],
).annotate({ identifier: "AutoGPTExportUpload", title: "AutoGPT graph export" })

/**
 * The body of `POST /api/graphs` and `PUT /api/graphs/:id`: a Weft graph or an AutoGPT export.
 *
 * @category schemas
 */
export const GraphUpload = Schema.Union([WeftGraphUpload, AutoGPTExportUpload])

/**
 * What storing a graph answers.
 *
 * @category schemas
 */
export const GraphCreated = Schema.Struct({
  id: Schema.String,
  version: Schema.Number,
  format: Schema.Literals(["weft", "autogpt"]),
  /** Notes from the AutoGPT import (fields set aside, legacy shapes). */
  warnings: Schema.Array(Schema.String),
})

/**
 * The caller's role on a graph: `owner` (its creator, or shared as owner), `editor` or `viewer`.
 *
 * @category schemas
 */
export const GraphRoleSchema = Schema.Literals(["owner", "editor", "viewer"])

/**
 * The caller has a role on the graph, but not one that allows the request (a viewer changing the graph, a
 * non-owner sharing it). `role` is the caller's role. Without any role the graph is answered 404.
 *
 * @category errors
 */
export class RoleForbidden extends Schema.TaggedError<RoleForbidden>()(
  "RoleForbidden",
  { error: Schema.String, role: GraphRoleSchema },
  { httpApiStatus: 403 },
) {}

/**
 * A graph in the library list: the caller's own and those shared with them.
 *
 * @category schemas
 */
export const GraphSummary = Schema.Struct({
  id: Schema.String,
  role: GraphRoleSchema,
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  activeVersion: Schema.Number,
  latestVersion: Schema.Number,
  createdAt: Schema.optionalKey(Schema.Number),
  updatedAt: Schema.optionalKey(Schema.Number),
})

/**
 * One version of a graph.
 *
 * @category schemas
 */
export const GraphVersionInfo = Schema.Struct({
  version: Schema.Number,
  active: Schema.Boolean,
  name: Schema.optionalKey(Schema.String),
  createdAt: Schema.optionalKey(Schema.Number),
})

/**
 * A graph at one version, with its sub-graphs and its run input and output schemas (R5).
 *
 * @category schemas
 */
export const GraphDetail = Schema.Struct({
  id: Schema.String,
  role: GraphRoleSchema,
  version: Schema.Number,
  activeVersion: Schema.Number,
  versions: Schema.Array(Schema.Number),
  graph: Graph,
  subGraphs: Schema.Array(Graph),
  inputSchema: JsonObject,
  outputSchema: JsonObject,
})

/**
 * The body of `PUT /api/graphs/:id/versions/active`.
 *
 * @category schemas
 */
export const SetActiveRequest = Schema.Struct({ version: Version })

/**
 * The body of `POST /api/graphs/:id/fork` (optional: an empty body forks the active version).
 *
 * @category schemas
 */
export const ForkRequest = Schema.Struct({ version: Schema.optionalKey(Version) })

// ---------------------------------------------------------------------------------------------------------
// Sharing

/**
 * An account's email address in a body: 3 to 320 storable characters with an `@`, compared without case.
 *
 * @category schemas
 */
export const Email = Schema.String.check(
  Schema.isMinLength(3),
  Schema.isMaxLength(320),
  isStorableText,
  Schema.makeFilter((text: string) => /^[^\s@]+@[^\s@]+$/.test(text) || "must be an email address"),
)

/**
 * The body of `PUT /api/graphs/:id/shares`: give the user with this email a role on the graph, or change it.
 *
 * @category schemas
 */
export const ShareRequest = Schema.Struct({ email: Email, role: GraphRoleSchema })

/**
 * Who has access to a graph. `email` and `name` are the account's (absent when it is gone).
 *
 * @category schemas
 */
export const GraphShareInfo = Schema.Struct({
  userId: Schema.String,
  email: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  role: GraphRoleSchema,
  /** The graph's creator: always an owner, cannot be removed. */
  creator: Schema.Boolean,
})

// ---------------------------------------------------------------------------------------------------------
// Runs

/**
 * The body of `POST /api/graphs/:id/runs` (optional: an empty body runs the active version with no inputs).
 *
 * @category schemas
 */
export const RunStartRequest = Schema.Struct({
  inputs: Schema.optionalKey(JsonObject),
  version: Schema.optionalKey(Version),
  /**
   * Run what the live (co-edited) document holds: the active version when it equals it, else the document
   * saved as a new version first (owners and editors). Not with `version`.
   */
  live: Schema.optionalKey(Schema.Boolean),
})

/**
 * What starting a run answers. `existing` is true when an `Idempotency-Key` matched an earlier start.
 *
 * @category schemas
 */
export const RunStarted = Schema.Struct({ id: Schema.String, existing: Schema.Boolean })

/**
 * A run in a list.
 *
 * @category schemas
 */
export const RunSummary = Schema.Struct({
  id: Schema.String,
  graphId: Schema.optionalKey(Schema.String),
  graphVersion: Schema.optionalKey(Schema.Number),
  status: Status,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  error: Schema.optionalKey(Schema.String),
})

/**
 * A node execution of a run.
 *
 * @category schemas
 */
export const ExecutionView = Schema.Struct({
  id: Schema.String,
  nodeId: Schema.String,
  blockId: Schema.String,
  status: Status,
  inputs: JsonObject,
  outputs: Schema.Array(Schema.Struct({ pin: Schema.String, value: Schema.Unknown })),
  attempts: Schema.Number,
  cost: Schema.Number,
  createdAt: Schema.Number,
  startedAt: Schema.optionalKey(Schema.Number),
  endedAt: Schema.optionalKey(Schema.Number),
  error: Schema.optionalKey(Schema.String),
  review: Schema.optionalKey(
    Schema.Struct({ payload: Schema.Unknown, decision: Schema.optionalKey(Schema.Unknown) }),
  ),
})

/**
 * A run: its status, its outputs by output name, and its node executions.
 *
 * @category schemas
 */
export const RunDetail = Schema.Struct({
  ...RunSummary.fields,
  inputs: JsonObject,
  outputs: Schema.Record(Schema.String, Schema.Array(Schema.Unknown)),
  cost: Schema.Number,
  lastSeq: Schema.Number,
  executions: Schema.Array(ExecutionView),
})

/**
 * The body of `POST /api/runs/:id/reviews`: approve or reject an execution waiting for review, optionally
 * with edited data.
 *
 * @category schemas
 */
export const ReviewRequest = Schema.Struct({
  executionId: Id,
  approved: Schema.Boolean,
  data: Schema.optionalKey(Schema.Unknown),
  message: Schema.optionalKey(Schema.String),
})

/**
 * What stopping or reviewing a run answers.
 *
 * @category schemas
 */
export const RunAccepted = Schema.Struct({
  id: Schema.String,
  status: Status,
  /** True when the request is recorded but no worker has acted on it yet: it takes effect when one does. */
  pending: Schema.optionalKey(Schema.Boolean),
})

/**
 * `text/event-stream`: `id: <seq>`, `event: <type>` and `data: <json>` per run event; progress events
 * have no id.
 *
 * @category schemas
 */
export const RunEventStream = Schema.String.pipe(
  HttpApiSchema.asText({ contentType: "text/event-stream" }),
).annotate({
  description: "Server-Sent Events: one per run event, then the stream ends after the run's final status.",
})

const graphId = { id: Id }

// ---------------------------------------------------------------------------------------------------------
// The API

/**
 * The blocks routes.
 *
 * @category api
 */
export class BlocksApi extends HttpApiGroup.make("blocks")
  .add(
    HttpApiEndpoint.get("list", "/api/blocks", { success: Schema.Array(BlockInfo) }).annotate(
      PublicRoute,
      true,
    ),
  )
  .add(
    HttpApiEndpoint.post("execute", "/api/blocks/:id/execute", {
      params: { id: Id },
      payload: BlockExecuteRequest,
      success: Schema.Struct({ outputs: Schema.Array(BlockOutput) }),
      error: [NotFound, BadRequest, Conflict],
    }),
  )
  .annotate(RequiredScope, "blocks:execute") {}

/**
 * The graphs routes.
 *
 * @category api
 */
export class GraphsApi extends HttpApiGroup.make("graphs")
  .add(
    HttpApiEndpoint.post("create", "/api/graphs", {
      payload: GraphUpload,
      success: GraphCreated.pipe(HttpApiSchema.status(201)),
      error: BadRequest,
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(HttpApiEndpoint.get("list", "/api/graphs", { success: Schema.Array(GraphSummary) }))
  .add(
    HttpApiEndpoint.get("get", "/api/graphs/:id", {
      params: graphId,
      query: { version: Schema.optionalKey(VersionParam) },
      success: GraphDetail,
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.put("update", "/api/graphs/:id", {
      params: graphId,
      payload: GraphUpload,
      success: GraphCreated,
      error: [NotFound, BadRequest, RoleForbidden],
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.get("versions", "/api/graphs/:id/versions", {
      params: graphId,
      success: Schema.Array(GraphVersionInfo),
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.put("setActive", "/api/graphs/:id/versions/active", {
      params: graphId,
      payload: SetActiveRequest,
      success: Schema.Struct({ id: Schema.String, activeVersion: Schema.Number }),
      error: [NotFound, RoleForbidden],
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.post("fork", "/api/graphs/:id/fork", {
      params: graphId,
      // An empty body decodes as null.
      payload: [Schema.Null, ForkRequest],
      success: Schema.Struct({ id: Schema.String, version: Schema.Number }).pipe(HttpApiSchema.status(201)),
      error: NotFound,
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.get("export", "/api/graphs/:id/export", {
      params: graphId,
      query: {
        format: Schema.optionalKey(Schema.Literals(["autogpt", "weft"])),
        version: Schema.optionalKey(VersionParam),
      },
      success: JsonObject,
      error: NotFound,
    }),
  )
  .annotate(RequiredScope, "graphs:read") {}

/**
 * The sharing routes: who has access to a graph (any role may list), sharing by email and removing access
 * (owners; anyone may remove themselves).
 *
 * @category api
 */
export class SharingApi extends HttpApiGroup.make("sharing")
  .add(
    HttpApiEndpoint.get("list", "/api/graphs/:id/shares", {
      params: graphId,
      success: Schema.Array(GraphShareInfo),
      error: NotFound,
    }).annotate(RequiredScope, "graphs:read"),
  )
  .add(
    HttpApiEndpoint.put("share", "/api/graphs/:id/shares", {
      params: graphId,
      payload: ShareRequest,
      success: GraphShareInfo,
      error: [NotFound, BadRequest, RoleForbidden],
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.delete("unshare", "/api/graphs/:id/shares/:userId", {
      params: { id: Id, userId: Id },
      success: HttpApiSchema.NoContent,
      error: [NotFound, BadRequest, RoleForbidden],
    }).annotate(RequiredScope, "graphs:write"),
  ) {}

/**
 * The live (co-edited) document of a graph as a graph: its content, and the validation problems saving it
 * would meet (node id → field → message; empty when it would save).
 *
 * @category schemas
 */
export const LiveGraph = Schema.Struct({
  id: Schema.String,
  role: GraphRoleSchema,
  /** The active version the document started from or was last saved as. */
  activeVersion: Schema.Number,
  /** Whether the document differs from the active version. */
  changed: Schema.Boolean,
  graph: Graph,
  errors: Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.String)),
})

/**
 * What saving the live document answers: the version it is now (`unchanged`: it equalled the active one,
 * nothing was stored).
 *
 * @category schemas
 */
export const LiveSaved = Schema.Struct({
  id: Schema.String,
  version: Schema.Number,
  unchanged: Schema.Boolean,
})

/**
 * The live document routes: read it as a graph (with its validation problems), save it as a version.
 *
 * @category api
 */
export class LiveApi extends HttpApiGroup.make("live")
  .add(
    HttpApiEndpoint.get("get", "/api/graphs/:id/live", {
      params: graphId,
      success: LiveGraph,
      error: [NotFound, Unprocessable],
    }).annotate(RequiredScope, "graphs:read"),
  )
  .add(
    HttpApiEndpoint.post("save", "/api/graphs/:id/live/save", {
      params: graphId,
      success: LiveSaved,
      error: [NotFound, BadRequest, Unprocessable, RoleForbidden],
    }).annotate(RequiredScope, "graphs:write"),
  ) {}

/**
 * The runs routes.
 *
 * @category api
 */
export class RunsApi extends HttpApiGroup.make("runs")
  .add(
    HttpApiEndpoint.post("start", "/api/graphs/:id/runs", {
      params: graphId,
      headers: { "idempotency-key": Schema.optionalKey(Schema.String.check(Schema.isMaxLength(200))) },
      payload: [Schema.Null, RunStartRequest],
      success: RunStarted.pipe(HttpApiSchema.status(201)),
      error: [NotFound, BadRequest, Unprocessable, RateLimited, RoleForbidden],
    }).annotate(RequiredScope, "graphs:execute"),
  )
  .add(
    HttpApiEndpoint.get("list", "/api/runs", {
      query: { graphId: Schema.optionalKey(Id) },
      success: Schema.Array(RunSummary),
    }),
  )
  .add(
    HttpApiEndpoint.get("get", "/api/runs/:id", {
      params: { id: Id },
      success: RunDetail,
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.post("stop", "/api/runs/:id/stop", {
      params: { id: Id },
      success: RunAccepted,
      error: [NotFound, Conflict],
    }).annotate(RequiredScope, "graphs:execute"),
  )
  .add(
    HttpApiEndpoint.post("review", "/api/runs/:id/reviews", {
      params: { id: Id },
      payload: ReviewRequest,
      success: RunAccepted,
      error: [NotFound, Conflict],
    }).annotate(RequiredScope, "graphs:execute"),
  )
  .add(
    HttpApiEndpoint.get("events", "/api/runs/:id/events", {
      params: { id: Id },
      query: {
        after: Schema.optionalKey(
          Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)),
        ),
      },
      headers: {
        "last-event-id": Schema.optionalKey(
          Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)),
        ),
      },
      success: RunEventStream,
      error: NotFound,
    }),
  )
  .annotate(RequiredScope, ["graphs:read", "graphs:execute"]) {}

/**
 * The whole API. Every route requires `Authentication` (the owner) and answers decoding failures with
 * `BadRequest`.
 *
 * @category api
 */
export class WeftApi extends HttpApi.make("weft")
  .add(BlocksApi)
  .add(GraphsApi)
  .add(SharingApi)
  .add(LiveApi)
  .add(RunsApi)
  .add(ApiKeysApi)
  .add(CredentialsApi)
  .add(WebhooksApi)
  .add(PresetsApi)
  .add(SchedulesApi)
  .middleware(RequestValidation)
  .middleware(Authentication)
  .annotate(HttpApi.ParseOptions, { onExcessProperty: "error", errors: "all" })
  .annotate(HttpApi.HeadersParseOptions, { errors: "all" })
  .annotateMerge(
    OpenApi.annotations({
      title: "Weft API",
      version: "0.1.0",
      description: "Graphs, runs and live run events of a Weft host.",
    }),
  ) {}

/** The path of the OpenAPI document. */
export const OPENAPI_PATH = "/api/openapi.json"

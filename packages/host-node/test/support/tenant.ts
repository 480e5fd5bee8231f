/**
 * A user with one of everything the API stores, made through the API: graphs (one with two versions), a
 * finished run and a run waiting for review, credentials, a preset that uses them, a schedule, a webhook and
 * an API key with every scope. Every name, title, description, input and secret contains the user's unique
 * `marker`, so that an answer to another user can be searched for any of it.
 */
import { randomBytes } from "node:crypto"
import { API_SCOPES } from "../../src/auth/scopes.js"
import { client, eventually, helloGraph, readSse, type Session, signUp } from "../api-support.js"

/** A graph whose `judge` node (an AI condition block) has an OpenAI API-key credentials field. */
export const judgeGraph = (name: string) => ({
  name,
  nodes: [
    { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "topic" } },
    { id: "judge", blockId: "weft/ai/condition", inputDefault: { condition: "it is a city" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "verdict" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "judge", sinkName: "input_value" },
    { sourceId: "judge", sourceName: "result", sinkId: "out", sinkName: "value" },
  ],
})

/** A graph started by webhook deliveries: the payload → output `received`. */
export const hookGraph = (name: string) => ({
  name,
  nodes: [
    { id: "hook", blockId: "weft/io/webhook-trigger", inputDefault: { name: "event" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "received" } },
  ],
  links: [{ sourceId: "hook", sourceName: "payload", sinkId: "out", sinkName: "value" }],
})

/** A graph that waits for a person's review, then outputs the reviewed data. */
export const reviewGraph = (name: string, data: string) => ({
  name,
  nodes: [
    { id: "hitl", blockId: "weft/agent/human-in-the-loop", inputDefault: { name: "x", data } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "o" } },
  ],
  links: [{ sourceId: "hitl", sourceName: "approved_data", sinkId: "out", sinkName: "value" }],
})

/** A cron rule that fires once a year: the schedule exists and is active, and never fires during a test. */
export const YEARLY = "0 0 1 1 *"

/** What a tenant made. */
export interface Tenant {
  /** Unique to this user; in every name, title, input and secret the user stored. */
  readonly marker: string
  readonly session: Session
  readonly api: ReturnType<typeof client>
  /** An API key of this user with every scope. */
  readonly key: string
  readonly keyId: string
  /** A graph with two versions (the second active). */
  readonly graphId: string
  readonly judgeGraphId: string
  readonly hookGraphId: string
  readonly reviewGraphId: string
  /** A completed run of `graphId`. */
  readonly doneRunId: string
  /** A run of `reviewGraphId` waiting in REVIEW on `reviewExecutionId`. */
  readonly pausedRunId: string
  readonly reviewExecutionId: string
  readonly credentialId: string
  readonly presetId: string
  readonly scheduleId: string
  readonly webhookId: string
  readonly webhookSecret: string
  /** Every id of the user's data (the user's id, node execution ids included). */
  readonly ids: ReadonlyArray<string>
  /** The secrets: credentials, webhook secret, API key. */
  readonly secrets: ReadonlyArray<string>
}

interface RunView {
  readonly status: string
  readonly executions: ReadonlyArray<{ id: string; status: string }>
}

const created = <T>(answer: { status: number; body: T }, what: string): T => {
  if (answer.status !== 201) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`)
  return answer.body
}

/** Signs up `<name><random hex>` and stores one of everything for that user. */
export const makeTenant = async (base: string, name: string): Promise<Tenant> => {
  const marker = `${name}${randomBytes(6).toString("hex")}`
  const session = await signUp(base, marker)
  const api = client(base, session)

  const graphId = created(
    await api.post<{ id: string }>("/api/graphs", helloGraph(`${marker} v1`)),
    "graph",
  ).id
  const update = await api.put(`/api/graphs/${graphId}`, helloGraph(`${marker} v2`))
  if (update.status !== 200) throw new Error(`graph update: ${update.status}`)
  const judgeGraphId = created(
    await api.post<{ id: string }>("/api/graphs", judgeGraph(`${marker} judge`)),
    "judge graph",
  ).id
  const hookGraphId = created(
    await api.post<{ id: string }>("/api/graphs", hookGraph(`${marker} hook`)),
    "hook graph",
  ).id
  const reviewGraphId = created(
    await api.post<{ id: string }>("/api/graphs", reviewGraph(`${marker} review`, `${marker} data`)),
    "review graph",
  ).id

  const doneRunId = created(
    await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs: { topic: marker } }),
    "run",
  ).id
  await readSse(`${base}/api/runs/${doneRunId}/events`, { headers: session.headers })
  const pausedRunId = created(
    await api.post<{ id: string }>(`/api/graphs/${reviewGraphId}/runs`, {}),
    "review run",
  ).id
  const reviewExecutionId = await eventually(async () => {
    const run = await api.get<RunView>(`/api/runs/${pausedRunId}`)
    return run.body.executions.find((e) => e.status === "REVIEW")?.id
  })
  const executionIds = (await api.get<RunView>(`/api/runs/${doneRunId}`)).body.executions.map((e) => e.id)

  const apiKeySecret = `sk-${marker}`
  const credentialId = created(
    await api.post<{ id: string }>("/api/credentials", {
      provider: "openai",
      type: "api_key",
      title: `${marker} key`,
      secret: { api_key: apiKeySecret },
    }),
    "credentials",
  ).id
  const presetId = created(
    await api.post<{ id: string }>("/api/presets", {
      graphId: judgeGraphId,
      name: `${marker} preset`,
      description: `${marker} description`,
      inputs: { topic: marker },
      credentials: { judge: { credentials: credentialId } },
    }),
    "preset",
  ).id
  const scheduleId = created(
    await api.post<{ id: string }>("/api/schedules", {
      graphId,
      cron: YEARLY,
      timezone: "UTC",
      inputs: { topic: marker },
      name: `${marker} schedule`,
    }),
    "schedule",
  ).id
  const webhook = created(
    await api.post<{ id: string; secret: string }>(`/api/graphs/${hookGraphId}/webhooks`, {
      description: `${marker} webhook`,
    }),
    "webhook",
  )
  const key = created(
    await api.post<{ id: string; key: string }>("/api/api-keys", {
      name: `${marker} key`,
      scopes: [...API_SCOPES],
    }),
    "API key",
  )

  return {
    marker,
    session,
    api,
    key: key.key,
    keyId: key.id,
    graphId,
    judgeGraphId,
    hookGraphId,
    reviewGraphId,
    doneRunId,
    pausedRunId,
    reviewExecutionId,
    credentialId,
    presetId,
    scheduleId,
    webhookId: webhook.id,
    webhookSecret: webhook.secret,
    ids: [
      session.userId,
      graphId,
      judgeGraphId,
      hookGraphId,
      reviewGraphId,
      doneRunId,
      pausedRunId,
      reviewExecutionId,
      ...executionIds,
      credentialId,
      presetId,
      scheduleId,
      webhook.id,
      key.id,
    ],
    secrets: [apiKeySecret, webhook.secret, key.key],
  }
}

/**
 * What of `tenant`'s data `text` contains, beyond the ids in `sent` (what the caller named itself): the
 * marker (names, titles, inputs, secrets), ids, secrets. Empty when nothing leaked.
 */
export const leaksOf = (tenant: Tenant, text: string, sent: string): ReadonlyArray<string> => [
  ...(text.includes(tenant.marker) ? [`marker ${tenant.marker}`] : []),
  ...tenant.ids.filter((id) => text.includes(id) && !sent.includes(id)).map((id) => `id ${id}`),
  ...tenant.secrets.filter((secret) => text.includes(secret)).map(() => "a secret"),
]

/**
 * Real collaboration providers against a host's `/collab`: one socket each, with the outcome of
 * authentication, and helpers to wait for replicas.
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider"
import WebSocket from "ws"
import * as Y from "yjs"

export interface Peer {
  readonly doc: Y.Doc
  readonly provider: HocuspocusProvider
  /** Resolves with "synced" or `denied:<reason>`. */
  readonly outcome: Promise<"synced" | `denied:${string}`>
  /** The close events (code and reason) this provider saw for its document. */
  readonly closes: Array<string>
  readonly close: () => void
}

/** The `ws://…/collab` URL of a host at `base` (`http://…`). */
export const collabUrl = (base: string) => `${base.replace(/^http/, "ws")}/collab`

/** A provider for `graph:<graphId>` with `token`, on its own socket, that does not reconnect. */
export const peer = (base: string, graphId: string, token: string): Peer => {
  const doc = new Y.Doc()
  const socket = new HocuspocusProviderWebsocket({
    url: collabUrl(base),
    WebSocketPolyfill: WebSocket,
    maxAttempts: 1,
  })
  let settle: (value: "synced" | `denied:${string}`) => void = () => {}
  const outcome = new Promise<"synced" | `denied:${string}`>((resolve) => {
    settle = resolve
  })
  const closes: Array<string> = []
  const provider = new HocuspocusProvider({
    websocketProvider: socket,
    name: `graph:${graphId}`,
    document: doc,
    token,
    onSynced: () => settle("synced"),
    onAuthenticationFailed: ({ reason }) => settle(`denied:${reason}`),
    onClose: ({ event }) => {
      closes.push(`${event.code}:${event.reason}`)
    },
  })
  provider.attach()
  return {
    doc,
    provider,
    outcome,
    closes,
    close: () => {
      provider.destroy()
      socket.destroy()
    },
  }
}

/** The session token in a session's cookie header (the value of better-auth's session cookie). */
export const sessionToken = (cookieHeader: string): string => {
  const match = /better-auth\.session_token=([^;]+)/.exec(cookieHeader)
  if (match?.[1] === undefined) throw new Error(`no session cookie in ${cookieHeader}`)
  return decodeURIComponent(match[1])
}

/** Polls `predicate` until it holds, or fails after `timeoutMs`. */
export const until = async (predicate: () => boolean, timeoutMs = 5_000, what = "condition") => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

import type { Connection, Document } from "@hocuspocus/server"
import * as decoding from "lib0/decoding"
import { removeAwarenessStates } from "y-protocols/awareness"
import type { CollabAccess } from "./CollabAccess.js"

/**
 * What one client may publish as its presence (its y-protocols awareness state), after the server rewrote it.
 *
 * `user.id` and `user.name` are always the authenticated account's; `selection` is only kept for editors and
 * owners.
 */
export interface CollabPresence {
  readonly user: { readonly id: string; readonly name: string; readonly color?: string }
  /** Pointer position in graph coordinates. */
  readonly cursor?: { readonly x: number; readonly y: number }
  /** Ids of the selected nodes (at most 500, each at most 128 characters). */
  readonly selection?: ReadonlyArray<string>
}

const colorPattern = /^#[0-9a-fA-F]{6}$/
const maxSelection = 500
const maxSelectionId = 128

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value)

/**
 * Rewrite one awareness state sent by `access`'s connection into a {@link CollabPresence}.
 *
 * Unknown fields are dropped; `user.id`/`user.name` are pinned to the account; `user.color` is kept only as
 * `#rrggbb`; `cursor` only with finite `x` and `y`; `selection` only for non-viewers and only when it is an array
 * of at most 500 strings of at most 128 characters (otherwise the whole field is dropped).
 */
export const sanitizePresence = (state: unknown, access: CollabAccess): CollabPresence => {
  const input = isRecord(state) ? state : {}
  const claimed = isRecord(input.user) ? input.user : {}
  const color =
    typeof claimed.color === "string" && colorPattern.test(claimed.color) ? claimed.color : undefined
  const user =
    color === undefined
      ? { id: access.userId, name: access.name }
      : { id: access.userId, name: access.name, color }
  const cursor =
    isRecord(input.cursor) && isFiniteNumber(input.cursor.x) && isFiniteNumber(input.cursor.y)
      ? { x: input.cursor.x, y: input.cursor.y }
      : undefined
  const selection =
    access.role !== "viewer" &&
    Array.isArray(input.selection) &&
    input.selection.length <= maxSelection &&
    input.selection.every((id): id is string => typeof id === "string" && id.length <= maxSelectionId)
      ? [...input.selection]
      : undefined
  return {
    user,
    ...(cursor === undefined ? {} : { cursor }),
    ...(selection === undefined ? {} : { selection }),
  }
}

interface Claim {
  readonly connection: Connection<CollabAccess>
  readonly userId: string
}

const userIdOf = (state: unknown): string | undefined =>
  isRecord(state) && isRecord(state.user) && typeof state.user.id === "string" ? state.user.id : undefined

/**
 * Who may set which awareness client id on a document, and the rewrite of inbound awareness states.
 *
 * A client id belongs to the account that introduced it on the document. A connection's state for an id that
 * belongs to another account (introduced by another connection here, or relayed from another server process) is
 * dropped, so nobody can overwrite someone else's presence. The same account may take an id over from another of
 * its own connections: that is a provider reconnecting while the server has not yet noticed its old socket died.
 *
 * Claims are recorded synchronously while the inbound update is filtered, so two connections racing for a new id
 * cannot both win. A null state (a removal) never reaches the filter.
 */
export class PresenceGuard {
  private readonly claims = new WeakMap<Document, Map<number, Claim>>()

  /**
   * Rewrite, in place, the states of one inbound awareness update on `document`. Updates that did not come from a
   * client connection (another server process through Redis, or the server itself) pass unchanged: they were
   * filtered where they entered.
   */
  filter(
    document: Document,
    states: Map<number, Record<string, unknown>>,
    connection: Connection<CollabAccess> | undefined,
  ): void {
    if (connection === undefined) return
    const access = connection.context
    let claims = this.claims.get(document)
    if (claims === undefined) {
      claims = new Map()
      this.claims.set(document, claims)
    }
    for (const [clientId, state] of states) {
      if (clientId === document.awareness.clientID || !this.take(document, claims, clientId, connection)) {
        states.delete(clientId)
      } else {
        states.set(clientId, { ...sanitizePresence(state, access) })
      }
    }
  }

  /**
   * Apply the removals (null states) of an awareness frame that `connection` sent and Hocuspocus has handled.
   * Hocuspocus re-encodes inbound awareness from the states that remain, which loses removals; a client that
   * clears its presence without disconnecting would otherwise linger. Only ids this connection holds are removed.
   */
  applyRemovals(document: Document, frame: Uint8Array, connection: Connection<CollabAccess>): void {
    const held = document.getClients(connection)
    this.remove(document, removalsIn(frame).removals, (clientId) => held.has(clientId), {
      source: "connection",
      connection,
    })
  }

  /**
   * Apply the removals of an awareness message relayed from another process (the same loss as above, on the
   * Redis path: a client leaving a remote process would otherwise linger here until the awareness timeout).
   * Ids held by a live connection of this process are not touched.
   */
  applyRelayedRemovals(documents: ReadonlyMap<string, Document>, message: Uint8Array): void {
    const { documentName, removals } = removalsIn(message)
    const document = documentName === undefined ? undefined : documents.get(documentName)
    if (document === undefined) return
    const claims = this.claims.get(document)
    this.remove(
      document,
      removals,
      (clientId) => {
        const claim = claims?.get(clientId)
        return claim === undefined || !document.hasConnection(claim.connection)
      },
      { source: "redis" },
    )
  }

  private remove(
    document: Document,
    removals: ReadonlyArray<{ clientId: number; clock: number }>,
    allowed: (clientId: number) => boolean,
    origin: unknown,
  ): void {
    const ids: number[] = []
    for (const { clientId, clock } of removals) {
      const meta = document.awareness.meta.get(clientId)
      if (!allowed(clientId) || !document.awareness.states.has(clientId) || (meta?.clock ?? 0) > clock)
        continue
      // The removal's clock, so an older state still on its way is not applied after it.
      document.awareness.meta.set(clientId, { clock, lastUpdated: Date.now() })
      ids.push(clientId)
    }
    if (ids.length > 0) removeAwarenessStates(document.awareness, ids, origin)
  }

  /** Forget the claims of connections that left `document`; returns the client ids they held. */
  release(document: Document): ReadonlyArray<number> {
    const claims = this.claims.get(document)
    if (claims === undefined) return []
    const released: number[] = []
    for (const [clientId, claim] of claims) {
      if (!document.hasConnection(claim.connection)) {
        claims.delete(clientId)
        released.push(clientId)
      }
    }
    return released
  }

  private take(
    document: Document,
    claims: Map<number, Claim>,
    clientId: number,
    connection: Connection<CollabAccess>,
  ): boolean {
    const userId = connection.context.userId
    const claim = claims.get(clientId)
    if (claim?.connection === connection) return true
    const live = claim !== undefined && document.hasConnection(claim.connection)
    const owner = live ? claim.userId : userIdOf(document.awareness.states.get(clientId))
    if (owner !== undefined && owner !== userId) return false
    // The id's state must go when this connection closes (not when a previous holder does), also when the state
    // already exists and Hocuspocus therefore sees an update, not a new client.
    if (live) document.getClients(claim.connection).delete(clientId)
    document.getClients(connection).add(clientId)
    claims.set(clientId, { connection, userId })
    return true
  }
}

const messageAwareness = 1

interface Removals {
  readonly documentName: string | undefined
  readonly removals: ReadonlyArray<{ clientId: number; clock: number }>
}

/** The `(clientId, clock)` of every null state in an awareness frame; none for any other frame. */
const removalsIn = (frame: Uint8Array): Removals => {
  try {
    const decoder = decoding.createDecoder(frame)
    const documentName = decoding.readVarString(decoder)
    if (decoding.readVarUint(decoder) !== messageAwareness) return { documentName, removals: [] }
    const update = decoding.createDecoder(decoding.readVarUint8Array(decoder))
    const removals: Array<{ clientId: number; clock: number }> = []
    const count = decoding.readVarUint(update)
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(update)
      const clock = decoding.readVarUint(update)
      if (decoding.readVarString(update) === "null") removals.push({ clientId, clock })
    }
    return { documentName, removals }
  } catch {
    return { documentName: undefined, removals: [] }
  }
}

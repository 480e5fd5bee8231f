/** A user's role on one graph. Viewers get a read-only connection and publish no selection. */
export type CollabRole = "owner" | "editor" | "viewer"

/** Who is connected, as decided by the host's `authenticate`. Kept as the connection's context. */
export interface CollabAccess {
  readonly userId: string
  /** The account's display name: what other clients see in this user's presence. */
  readonly name: string
  readonly role: CollabRole
}

/**
 * Access is checked again while connections stay open: a token is only checked when a document connection
 * is made, so a signed-out session, a revoked API key or a removed share would otherwise keep editing for as
 * long as the socket lives. Every interval, the token of each open document connection is given to the host's
 * `authenticate` again: no access closes that document connection (4401), another role closes it too (4403)
 * so the client reconnects with its new rights.
 *
 * Tokens are kept in memory by socket and document, for as long as the connection lasts.
 */
import type { Hocuspocus } from "@hocuspocus/server"
import type { CollabAccess } from "./CollabAccess.js"

/** Close code: the token no longer gives access to the document. */
export const ACCESS_ENDED = { code: 4401, reason: "access ended" } as const

/** Close code: the user's role on the document changed; reconnect. */
export const ACCESS_CHANGED = { code: 4403, reason: "access changed" } as const

const keyOf = (socketId: string, documentName: string) => `${socketId}\u0000${documentName}`

/** The tokens of open document connections, and the periodic check. */
export class Revalidation {
  private readonly tokens = new Map<string, string>()
  private timer: ReturnType<typeof setInterval> | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly hocuspocus: Hocuspocus<CollabAccess>,
    private readonly authenticate: (token: string, documentName: string) => Promise<CollabAccess | undefined>,
    private readonly log: (message: string, detail?: unknown) => void,
  ) {}

  /** Remember the token a document connection was authenticated with. */
  granted(socketId: string, documentName: string, token: string): void {
    this.tokens.set(keyOf(socketId, documentName), token)
  }

  /** Forget it when the connection closes. */
  released(socketId: string, documentName: string): void {
    this.tokens.delete(keyOf(socketId, documentName))
  }

  /** Tokens remembered (one per open, authenticated document connection). */
  get size(): number {
    return this.tokens.size
  }

  /** Check every `intervalMs` (0 or less: never). */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer !== undefined) return
    this.timer = setInterval(() => {
      this.running ??= this.check().finally(() => {
        this.running = undefined
      })
    }, intervalMs)
    this.timer.unref?.()
  }

  /** Stop checking, after the check under way. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  /** Check every open document connection once (one `authenticate` per token and document). */
  async check(): Promise<void> {
    const decided = new Map<string, CollabAccess | undefined>()
    for (const [documentName, document] of this.hocuspocus.documents) {
      for (const connection of document.getConnections()) {
        const token = this.tokens.get(keyOf(connection.socketId, documentName))
        if (token === undefined) continue
        const cacheKey = keyOf(token, documentName)
        let access: CollabAccess | undefined
        if (decided.has(cacheKey)) access = decided.get(cacheKey)
        else {
          try {
            access = await this.authenticate(token, documentName)
          } catch (cause) {
            // A failing check (the database is down) is no reason to close: try again next time.
            this.log(`collab: checking access to ${documentName} again failed`, cause)
            continue
          }
          decided.set(cacheKey, access)
        }
        if (access === undefined || access.userId !== connection.context.userId) {
          connection.close(ACCESS_ENDED)
        } else if (access.role !== connection.context.role) {
          connection.close(ACCESS_CHANGED)
        }
      }
    }
  }
}

/**
 * The transport-agnostic seam between a WebSocket implementation and the collaboration server.
 *
 * Whoever owns the socket (the standalone `ws` listener, or the host's own HTTP server) calls
 * `CollabServer.accept(socket, request)` once per upgraded socket, then feeds the returned
 * {@link CollabConnection} every binary frame and the close event.
 */

/**
 * The server's handle on one upgraded WebSocket. A `ws` `WebSocket` fits as is.
 *
 * `send` after the socket closed must be a no-op (never throw); `readyState` follows the WebSocket constants
 * (0 connecting, 1 open, 2 closing, 3 closed).
 */
export interface CollabSocket {
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  readonly readyState: number
}

/** What the transport reports to the server about one accepted socket. */
export interface CollabConnection {
  /** One inbound binary frame, whole. Frames above `maxMessageBytes` close the socket with 1009. */
  message(data: Uint8Array): void
  /** The socket closed (either side). Idempotent. */
  closed(code?: number, reason?: string): void
}

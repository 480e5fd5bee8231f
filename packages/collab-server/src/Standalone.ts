import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"
import type { CollabConnection, CollabSocket } from "./CollabSocket.js"

/** A standalone listener: Node `http` plus a `ws` server, feeding every socket to `accept`. */
export interface Standalone {
  readonly port: number
  /** Stop accepting, wait for the remaining sockets' close handshakes briefly, then cut them. */
  readonly close: () => Promise<void>
}

const closeGraceMs = 1_000

/** The Fetch API request Hocuspocus hands to hooks (headers and query parameters), from a Node upgrade request. */
export const requestOf = (incoming: IncomingMessage): Request => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else if (value !== undefined) headers.set(name, value)
  }
  const host = incoming.headers.host ?? "localhost"
  return new Request(new URL(incoming.url ?? "/", `http://${host}`), { headers })
}

const bytesOf = (data: WebSocket.RawData): Uint8Array =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data

/** Listen on `port`/`address`; every WebSocket (any path) goes to `accept`; plain HTTP gets 426. */
export const listenStandalone = async (
  port: number,
  address: string,
  maxMessageBytes: number,
  accept: (socket: CollabSocket, request: Request) => CollabConnection,
): Promise<Standalone> => {
  // `maxPayload` keeps `ws` from buffering an oversized frame at all; `accept` enforces the same limit itself.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes })
  const http = createServer((_request, response) => {
    response.writeHead(426, { "content-type": "text/plain" })
    response.end("WebSocket upgrade required\n")
  })
  http.on("upgrade", (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = accept(ws, requestOf(request))
      ws.on("message", (data) => connection.message(bytesOf(data)))
      ws.on("close", (code, reason) => connection.closed(code, reason.toString()))
      ws.on("error", () => {}) // `close` follows; `accept` has the details it needs
    })
  })
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject)
    http.listen({ port, host: address }, () => {
      http.off("error", reject)
      resolve()
    })
  })
  return {
    port: (http.address() as AddressInfo).port,
    close: async () => {
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
      const deadline = Date.now() + closeGraceMs
      while ([...wss.clients].some((ws) => ws.readyState !== WebSocket.CLOSED) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      http.closeAllConnections()
      await stopped
    },
  }
}

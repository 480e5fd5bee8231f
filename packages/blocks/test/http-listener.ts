/**
 * A real `node:http` listener on a loopback address for the safe HTTP client's tests. It counts TCP
 * connections (so a test can assert that a refused request never reached it) and records every request.
 */
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { type ConnectionInfo, SafeHttpClient, type SafeHttpClientOptions } from "../src/index.js"

export interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface Listener {
  readonly host: string
  readonly port: number
  /** `http://host:port` + path. */
  readonly url: (path?: string) => string
  /** TCP connections accepted so far. */
  connections: number
  readonly requests: Array<Seen>
  readonly close: () => Promise<void>
}

export type Handler = (request: Seen, response: http.ServerResponse) => void

/** Starts a listener on `host` (127.0.0.1 by default) and `port` (0: any free port). */
export const listen = (handler: Handler, host = "127.0.0.1", port = 0): Promise<Listener> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>()
    const requests: Array<Seen> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const seen: Seen = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }
        requests.push(seen)
        handler(seen, res)
      })
    })
    server.on("connection", (socket) => {
      listener.connections++
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.once("error", reject)
    const listener: Listener = {
      host,
      port: 0,
      url: (path = "/") => `http://${host}:${listener.port}${path}`,
      connections: 0,
      requests,
      close: () =>
        new Promise((done) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => done())
        }),
    }
    server.listen(port, host, () => {
      ;(listener as { port: number }).port = (server.address() as AddressInfo).port
      resolve(listener)
    })
  })

/** Answers every request with a status, headers and a body. */
export const reply =
  (status: number, body: string | Buffer = "", headers: http.OutgoingHttpHeaders = {}): Handler =>
  (_, res) => {
    res.writeHead(status, headers)
    res.end(body)
  }

/**
 * A `beforeConnect` guard for tests: only 127.0.0.1 and 127.0.0.2 may ever be connected to. Should a check
 * of the client regress, a test then fails with "TEST GUARD" instead of sending a packet off this machine.
 * Records every connection it lets through.
 */
export const loopbackOnly =
  (seen: Array<ConnectionInfo> = []) =>
  (connection: ConnectionInfo): void => {
    if (connection.address !== "127.0.0.1" && connection.address !== "127.0.0.2") {
      throw new Error(`TEST GUARD: would have connected to ${connection.address}`)
    }
    seen.push(connection)
  }

/** A safe client for tests, always with the loopback-only guard. */
export const testClient = (options: SafeHttpClientOptions = {}): SafeHttpClient =>
  new SafeHttpClient({ beforeConnect: loopbackOnly(), ...options })

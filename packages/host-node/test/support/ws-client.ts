/**
 * A small WebSocket client for `/api/ws` (the `ws` package over a real socket): it records every message,
 * sends a request and waits for its reply, and reports a refused upgrade with its status and body.
 */
import WebSocket from "ws"

/** A server message, as the tests read it. */
export interface WsMessage {
  readonly type: string
  readonly [key: string]: unknown
}

/** An upgrade the server refused: its HTTP status and body text. */
export interface WsRefused {
  readonly status: number | undefined
  readonly body: string
}

/** A connected client. */
export class WsClient {
  readonly messages: Array<WsMessage> = []
  private waiters: Array<() => void> = []
  private closed = false

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)) as WsMessage)
      this.wake()
    })
    socket.on("close", () => {
      this.closed = true
      this.wake()
    })
  }

  private wake() {
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter()
  }

  /** Opens `/api/ws` on `base`: the client, or what refused the upgrade. */
  static open(base: string, headers: Record<string, string> = {}): Promise<WsClient | WsRefused> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${base.replace(/^http/, "ws")}/api/ws`, { headers })
      const client = new WsClient(socket)
      socket.once("open", () => resolve(client))
      socket.once("unexpected-response", (_request, response) => {
        let body = ""
        response.on("data", (chunk: Buffer) => {
          body += String(chunk)
        })
        response.on("end", () => {
          resolve({ status: response.statusCode, body })
          socket.terminate()
        })
      })
      socket.once("error", (error) => reject(error))
    })
  }

  /** Sends `message` and waits for the first reply after it that is not a heartbeat. */
  async request(message: unknown, timeoutMs = 10_000): Promise<WsMessage> {
    const from = this.messages.length
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message))
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const reply = this.messages.slice(from).find((m) => m.type !== "heartbeat")
      if (reply !== undefined) return reply
      if (this.closed) throw new Error("the socket closed while waiting for a reply")
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no reply to ${JSON.stringify(message)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Closes the socket and waits until it is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve())
      this.socket.close()
    })
  }
}

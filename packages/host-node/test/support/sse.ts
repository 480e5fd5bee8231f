/**
 * A Server-Sent Events connection that a test reads one event at a time and hangs up on whenever it likes
 * (mid-run, while a run waits for a review), unlike `readSse`, which reads until a condition or the end.
 */
import type { RunEvent } from "@weft/engine"
import type { Frame } from "../api-support.js"

/** What `next` answers: an event frame, the end of the stream, or nothing within the time allowed. */
export type Next = Frame | "end" | "timeout"

/** An open event stream. */
export interface SseConnection {
  /** The response status (the stream is empty unless it is 200). */
  readonly status: number
  /** The next event frame (comments are skipped), `"end"` once the server closed the stream, or `"timeout"`. */
  readonly next: (timeoutMs?: number) => Promise<Next>
  /** Hangs up (idempotent). */
  readonly close: () => void
}

const parse = (block: string): Frame => {
  const frame: { id?: string; event?: string; data?: RunEvent; comment?: string } = {}
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) frame.comment = line.slice(1).trim()
    else if (line.startsWith("id: ")) frame.id = line.slice(4)
    else if (line.startsWith("event: ")) frame.event = line.slice(7)
    else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6)) as RunEvent
  }
  return frame
}

/** Opens `url` as an event stream (with `headers`, e.g. the session cookie and `last-event-id`). */
export const openSse = async (url: string, headers: Record<string, string> = {}): Promise<SseConnection> => {
  const controller = new AbortController()
  const response = await fetch(url, { headers, signal: controller.signal })
  const frames: Array<Frame> = []
  let ended = response.body === null || !response.ok
  let failure: unknown
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  if (!ended && response.body !== null) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    void (async () => {
      let buffer = ""
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += value
          let end = buffer.indexOf("\n\n")
          while (end >= 0) {
            const frame = parse(buffer.slice(0, end))
            buffer = buffer.slice(end + 2)
            end = buffer.indexOf("\n\n")
            if (frame.event !== undefined) frames.push(frame)
            notify()
          }
        }
      } catch (error) {
        if (!controller.signal.aborted) failure = error
      } finally {
        ended = true
        notify()
      }
    })()
  } else {
    await response.body?.cancel()
  }
  const next = async (timeoutMs = 15_000): Promise<Next> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const frame = frames.shift()
      if (frame !== undefined) return frame
      if (failure !== undefined) throw failure
      if (ended) return "end"
      const left = deadline - Date.now()
      if (left <= 0) return "timeout"
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }
  return {
    status: response.status,
    next,
    close: () => {
      if (!controller.signal.aborted) controller.abort()
    },
  }
}

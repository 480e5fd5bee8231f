import { Block, BlockError } from "@weft/engine"
import { Schema } from "effect"
import {
  HttpFailed,
  type HttpRequest,
  type HttpResponse,
  HttpTimeout,
  httpClientFor,
  isHttpError,
  type SafeHttpClient,
} from "../../http/index.js"

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] as const

/** Bodies given as a string longer than this are never parsed as JSON (sent as text). */
const MAX_JSON_TEXT = 10_000_000

/** Python's `str()` of a form value, as `urlencode` would write it. */
const formText = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value === null || value === undefined) return "None"
  if (value === true) return "True"
  if (value === false) return "False"
  if (typeof value === "number") return String(value)
  return JSON.stringify(value)
}

/** Form fields of a body object; a list value becomes one field per item (Python's `doseq`). */
const formFields = (body: Readonly<Record<string, unknown>>): Array<readonly [string, string]> =>
  Object.entries(body).flatMap(([name, value]) =>
    Array.isArray(value)
      ? value.map((item) => [name, formText(item)] as const)
      : [[name, formText(value)] as const],
  )

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

interface UploadFile {
  readonly name: string
  readonly type: string
  readonly bytes: Uint8Array
}

const EXTENSIONS: Readonly<Record<string, string>> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/svg+xml": "svg",
  "application/pdf": "pdf",
  "application/json": "json",
  "text/plain": "txt",
  "text/csv": "csv",
  "text/html": "html",
  "audio/mpeg": "mp3",
  "audio/wav": "wav",
  "video/mp4": "mp4",
}

/** Reads one entry of `files`: a `data:` URI, or an http(s) URL fetched through the safe client. */
const loadFile = async (
  media: string,
  index: number,
  client: SafeHttpClient,
  signal: AbortSignal,
): Promise<UploadFile> => {
  const data = /^data:([^,]*?),(.*)$/s.exec(media)
  if (data !== null) {
    const meta = (data[1] ?? "").split(";")
    const type = meta[0]?.trim() || "text/plain"
    const payload = data[2] ?? ""
    const bytes = meta.slice(1).some((part) => part.trim().toLowerCase() === "base64")
      ? Uint8Array.from(Buffer.from(payload, "base64"))
      : new TextEncoder().encode(decodeURIComponent(payload))
    return { name: `file-${index + 1}.${EXTENSIONS[type.toLowerCase()] ?? "bin"}`, type, bytes }
  }
  if (/^https?:\/\//i.test(media)) {
    const response = await client.request({ method: "GET", url: media, signal })
    if (response.status < 200 || response.status >= 300) {
      throw new BlockError({
        message: `files[${index}]: fetching ${response.url} gave status ${response.status}`,
      })
    }
    const last = new URL(response.url).pathname.split("/").pop() ?? ""
    const type = (response.headers["content-type"] ?? "application/octet-stream").split(";")[0]?.trim() ?? ""
    return { name: last === "" ? `file-${index + 1}` : decodeURIComponent(last), type, bytes: response.body }
  }
  throw new BlockError({
    message: `files[${index}]: only data: URIs and http(s) URLs can be uploaded (Weft has no local file store)`,
    retryable: false,
  })
}

/** `"` and line breaks in multipart names are percent-encoded, as browsers do. */
const quoteName = (name: string): string =>
  name.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A")

const multipart = (
  fields: ReadonlyArray<readonly [string, string]>,
  filesName: string,
  files: ReadonlyArray<UploadFile>,
): { readonly body: Uint8Array; readonly contentType: string } => {
  const boundary = `----WeftFormBoundary${globalThis.crypto.randomUUID().replace(/-/g, "")}`
  const encoder = new TextEncoder()
  const parts: Array<Uint8Array> = []
  for (const [name, value] of fields) {
    parts.push(
      encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(name)}"\r\n\r\n${value}\r\n`,
      ),
    )
  }
  for (const file of files) {
    parts.push(
      encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(filesName)}"; filename="${quoteName(file.name)}"\r\nContent-Type: ${file.type}\r\n\r\n`,
      ),
      file.bytes,
      encoder.encode("\r\n"),
    )
  }
  parts.push(encoder.encode(`--${boundary}--\r\n`))
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}

/** The response as the outputs carry it: parsed JSON when the server says it is JSON, else text. */
const responseValue = (response: HttpResponse): unknown => {
  const type = (response.headers["content-type"] ?? "").toLowerCase()
  if (!type.startsWith("application/json")) return response.text()
  if (response.status === 204) return null
  const text = response.text()
  if (text.trim() === "") return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Send web request: makes an HTTP request through Weft's safe HTTP client (`httpClientFor(ctx)`: no
 * private, loopback or metadata addresses unless the host allow-lists them; size, time and redirect caps)
 * and routes the answer by status class. AutoGPT: SendWebRequestBlock.
 *
 * Behaviour kept from AutoGPT: a string `body` is parsed as JSON when it can be, and otherwise sent as plain
 * text with `json_format` turned off; without `json_format` an object body is sent as a URL-encoded form
 * (Python `str()` of each value, lists repeated), or as multipart form fields next to `files`; the response
 * is parsed as JSON when its `Content-Type` is `application/json`, else returned as text; 2xx goes to
 * `response`, 4xx to `client_error`, anything else to `server_error`.
 *
 * Where Weft differs: `files` accepts `data:` URIs and http(s) URLs only (Weft has no per-run file store for
 * paths); an empty or malformed JSON response becomes `null` or the raw text instead of failing; a non-JSON
 * scalar or list body without `json_format` is sent as its JSON text; a refused or failed request fails the
 * execution with the client's message on `error`.
 */
export default Block.make({
  id: "weft/http/send-web-request",
  title: "Send web request",
  description:
    "Sends an HTTP request (JSON, form or multipart) to a public URL and outputs the answer by status class.",
  categories: ["http"],
  aliases: ["6595ae1f-b924-42cb-9a41-551a0611c4b4"],
  input: Schema.Struct({
    url: Schema.String.annotate({
      title: "URL",
      description: "The http(s) address to call, e.g. https://api.example.com/items.",
    }),
    method: Schema.optional(Schema.Literals(METHODS)).annotate({
      title: "Method",
      description: "The HTTP method (GET, POST, PUT, DELETE, PATCH, OPTIONS or HEAD). POST when left out.",
    }),
    headers: Schema.optional(Schema.Record(Schema.String, Schema.String)).annotate({
      title: "Headers",
      description: "Extra request headers, by name.",
    }),
    json_format: Schema.optional(Schema.Boolean).annotate({
      title: "JSON format",
      description: "Send the body as JSON (on by default). Must be off when uploading files.",
    }),
    body: Schema.optional(Schema.Unknown).annotate({
      title: "Body",
      description:
        "What to send: any JSON value, or a text that is parsed as JSON when possible. With files, an object of form fields.",
    }),
    files_name: Schema.optional(Schema.String).annotate({
      title: "Files field name",
      description: "The multipart field name that the uploaded files use. 'file' when left out.",
      advanced: true,
    }),
    files: Schema.optional(Schema.Array(Schema.String)).annotate({
      title: "Files",
      description: "Files to upload as multipart form data, each a data: URI or an http(s) URL.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    response: Schema.Unknown.annotate({
      title: "Response",
      description: "The answer of a successful (2xx) request: parsed JSON or text.",
    }),
    client_error: Schema.Unknown.annotate({
      title: "Client error",
      description: "The answer when the server reports a client error (4xx): parsed JSON or text.",
    }),
    server_error: Schema.Unknown.annotate({
      title: "Server error",
      description: "The answer for any other status, mostly server errors (5xx): parsed JSON or text.",
    }),
    error: Schema.String.annotate({
      title: "Error",
      description: "Why the request could not be made: refused address, network failure, timeout, too large.",
    }),
  }),
  examples: [
    {
      description: "a loopback address is refused before anything is sent",
      input: { url: "http://127.0.0.1/", method: "GET" },
      output: [
        [
          "error",
          "Refused to request http://127.0.0.1/: 127.0.0.1 is a loopback address; it is not on the allow-list",
        ],
      ],
    },
    {
      description: "odd spellings of loopback are recognised (0x7f000001 is 127.0.0.1)",
      input: { url: "http://0x7f000001:8080/admin", method: "GET" },
      output: [
        [
          "error",
          "Refused to request http://127.0.0.1:8080/admin: 127.0.0.1 is a loopback address; it is not on the allow-list",
        ],
      ],
    },
    {
      description: "IPv6 loopback is refused",
      input: { url: "http://[::1]/", method: "GET" },
      output: [
        ["error", "Refused to request http://[::1]/: ::1 is a loopback address; it is not on the allow-list"],
      ],
    },
    {
      description: "schemes other than http and https are refused",
      input: { url: "file:///etc/passwd" },
      output: [
        [
          "error",
          "Refused to request file:///etc/passwd: the scheme file: is not allowed (only http: and https:)",
        ],
      ],
    },
    {
      description: "files cannot be sent as JSON",
      input: { url: "https://api.example.com/upload", files: ["data:text/plain;base64,aGk="] },
      output: [
        [
          "error",
          "json_format must be off when uploading files: put the form fields in body and set json_format to false",
        ],
      ],
    },
    {
      description: "files must be data: URIs or http(s) URLs",
      input: { url: "https://api.example.com/upload", json_format: false, files: ["/tmp/report.pdf"] },
      output: [
        [
          "error",
          "files[0]: only data: URIs and http(s) URLs can be uploaded (Weft has no local file store)",
        ],
      ],
    },
  ],
  run: async (input, ctx) => {
    const client = httpClientFor(ctx)
    let jsonFormat = input.json_format ?? true
    let body: unknown = input.body ?? null
    if (typeof body === "string") {
      if (body.length > MAX_JSON_TEXT) {
        jsonFormat = false
      } else {
        try {
          body = JSON.parse(body)
        } catch {
          jsonFormat = false
        }
      }
    }
    const files = input.files ?? []
    const useFiles = files.length > 0
    if (useFiles && jsonFormat) {
      throw new BlockError({
        message:
          "json_format must be off when uploading files: put the form fields in body and set json_format to false",
        retryable: false,
      })
    }
    const headers: Record<string, string> = {}
    const setDefault = (name: string, value: string) => {
      if (!Object.keys(input.headers ?? {}).some((key) => key.toLowerCase() === name)) headers[name] = value
    }
    Object.assign(headers, input.headers ?? {})
    let payload: HttpRequest["body"]
    try {
      if (useFiles) {
        const uploads: Array<UploadFile> = []
        for (const [index, media] of files.entries())
          uploads.push(await loadFile(media, index, client, ctx.signal))
        const form = multipart(isRecord(body) ? formFields(body) : [], input.files_name ?? "file", uploads)
        payload = form.body
        setDefault("content-type", form.contentType)
      } else if (body === null) {
        payload = undefined
      } else if (jsonFormat) {
        payload = JSON.stringify(body)
        setDefault("content-type", "application/json")
      } else if (typeof body === "string") {
        payload = body
        setDefault("content-type", "text/plain; charset=utf-8")
      } else if (isRecord(body)) {
        payload = new URLSearchParams(formFields(body).map(([k, v]) => [k, v])).toString()
        setDefault("content-type", "application/x-www-form-urlencoded")
      } else {
        payload = JSON.stringify(body)
        setDefault("content-type", "text/plain; charset=utf-8")
      }
      const response = await client.request({
        method: input.method ?? "POST",
        url: input.url,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        signal: ctx.signal,
      })
      const result = responseValue(response)
      if (response.status >= 200 && response.status < 300) return { response: result }
      if (response.status >= 400 && response.status < 500) return { client_error: result }
      return { server_error: result }
    } catch (error) {
      if (isHttpError(error)) {
        throw new BlockError({
          message: error.message,
          retryable: error instanceof HttpFailed || error instanceof HttpTimeout,
        })
      }
      throw error
    }
  },
})

export type { CollabPresence } from "./Awareness.js"
export { sanitizePresence } from "./Awareness.js"
export type { CollabAccess, CollabRole } from "./CollabAccess.js"
export { CollabMessageRejected, CollabOptionsInvalid, CollabRefused } from "./CollabErrors.js"
export type {
  CollabRedisOptions,
  CollabServer,
  CollabServerOptions,
  CollabStorage,
  ListeningCollabServer,
} from "./CollabServer.js"
export { makeCollabServer } from "./CollabServer.js"
export type { CollabConnection, CollabSocket } from "./CollabSocket.js"
export { documentNameOf, graphIdOf } from "./DocumentName.js"
export type { MessageCheck } from "./MessageCheck.js"
export { checkMessage } from "./MessageCheck.js"

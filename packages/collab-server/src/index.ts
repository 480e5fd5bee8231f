export { CollabMessageRejected, CollabRefused } from "./CollabErrors.js"
export type {
  CollabAccess,
  CollabRole,
  CollabServer,
  CollabServerOptions,
  CollabStorage,
  ListeningCollabServer,
} from "./CollabServer.js"
export { makeCollabServer } from "./CollabServer.js"
export { documentNameOf, graphIdOf } from "./DocumentName.js"
export type { MessageCheck } from "./MessageCheck.js"
export { checkMessage } from "./MessageCheck.js"

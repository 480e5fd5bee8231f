/**
 * Webhooks: signed HTTP deliveries that start a graph through its webhook-trigger block. The owner creates
 * one per graph (`POST /api/graphs/:id/webhooks`, the secret shown once), the sender signs each delivery
 * with it (`X-Weft-Signature`), and `POST /api/webhooks/:id` starts the graph with the JSON body as the
 * trigger's payload.
 *
 * @since 0.1.0
 */
export {
  DEFAULT_MAX_DELIVERY_BYTES,
  receiverRoute,
  WEBHOOKS_PATH,
  type WebhookOptions,
} from "./Receiver.js"
export {
  DEFAULT_TOLERANCE_SECONDS,
  newSecret,
  SECRET_PREFIX,
  SIGNATURE_HEADER,
  SignatureInvalid,
  type SignatureProblem,
  sign,
  verify,
} from "./Signature.js"
export { WEBHOOK_TRIGGER_BLOCK, WebhookGraphInvalid, webhookInputs } from "./trigger.js"
export {
  type DeliveryClaim,
  type Webhook,
  WebhookNotFound,
  WebhookSecretUnreadable,
  WebhookStore,
  type WebhookStoreShape,
  WebhooksLocked,
  type WebhookTarget,
} from "./WebhookStore.js"
export {
  WebhookCreated,
  WebhookCreateRequest,
  WebhookInfo,
  WebhooksApi,
  WebhooksUnavailable,
} from "./WebhooksApi.js"

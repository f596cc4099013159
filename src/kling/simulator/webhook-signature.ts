// Standard Webhooks signing, as Kling does once a Webhook Secret exists (kling-api.md section 8).
import { createHmac } from 'node:crypto';

export interface WebhookSignatureInput {
  /** `whsec_<base64>`; the prefix is optional. */
  secret: string;
  id: string;
  /** Unix seconds. */
  timestampSeconds: number;
  body: string;
}

/** The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function signWebhook(input: WebhookSignatureInput): string {
  const key = Buffer.from(input.secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${input.id}.${input.timestampSeconds}.${input.body}`).digest('base64');
  return `v1,${mac}`;
}

// Standard Webhooks signing (https://www.standardwebhooks.com), the scheme Kling uses for its own
// callbacks (kling-api.md section 8), so receivers can verify us with any Standard Webhooks library.
import { createHmac, timingSafeEqual } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const SIGNATURE_VERSION = 'v1';

export interface WebhookSignatureInput {
  /** `whsec_<base64>`; the prefix is optional. */
  secret: string;
  /** The `webhook-id` header: the same on every retry of one message. */
  id: string;
  /** The `webhook-timestamp` header, Unix seconds. */
  timestampSeconds: number;
  /** The exact body bytes sent (a string is taken as UTF-8). */
  body: string | Uint8Array;
}

function hmacOf({ secret, id, timestampSeconds, body }: WebhookSignatureInput): Buffer {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest();
}

/** The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function signWebhook(input: WebhookSignatureInput): string {
  return `${SIGNATURE_VERSION},${hmacOf(input).toString('base64')}`;
}

/** The three headers that go with a signed body. */
export function webhookHeaders(input: WebhookSignatureInput): Record<string, string> {
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': signWebhook(input),
  };
}

export interface VerifyWebhookInput {
  secret: string;
  /** Header names are matched case-insensitively. */
  headers: Record<string, string | string[] | undefined>;
  /** As received: the raw bytes, since any re-encoding can change what was signed. */
  body: string | Uint8Array;
  /** The receiver's time, Unix milliseconds. */
  nowMs: number;
  /**
   * Largest accepted difference between the receiver's clock and `webhook-timestamp`, in seconds;
   * it bounds how long a captured message can be replayed.
   * @default 300
   */
  toleranceSeconds?: number;
}

export type VerifyWebhookResult =
  | { ok: true; id: string; timestampSeconds: number }
  | { ok: false; reason: 'missing-headers' | 'stale-timestamp' | 'bad-signature' };

const headerOf = (headers: VerifyWebhookInput['headers'], name: string): string | undefined => {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
};

/**
 * Checks a received webhook as a Standard Webhooks receiver would. The signature header may carry
 * several space-separated entries (during a secret rotation); any `v1` match passes.
 */
export function verifyWebhook(input: VerifyWebhookInput): VerifyWebhookResult {
  const id = headerOf(input.headers, 'webhook-id');
  const timestamp = headerOf(input.headers, 'webhook-timestamp');
  const signatures = headerOf(input.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return { ok: false, reason: 'missing-headers' };
  const timestampSeconds = Number(timestamp);
  if (Math.abs(input.nowMs / 1000 - timestampSeconds) > (input.toleranceSeconds ?? 300)) {
    return { ok: false, reason: 'stale-timestamp' };
  }
  const expected = hmacOf({ secret: input.secret, id, timestampSeconds, body: input.body });
  for (const entry of signatures.split(' ')) {
    const [version, value] = entry.split(',', 2);
    if (version !== SIGNATURE_VERSION || value === undefined) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, id, timestampSeconds };
  }
  return { ok: false, reason: 'bad-signature' };
}

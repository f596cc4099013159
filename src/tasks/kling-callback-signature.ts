// Kling signs its callbacks once a Webhook Secret exists in its console: Standard Webhooks over the
// raw body (kling-api.md section 8). The check is our own node:crypto verifier, not the
// standardwebhooks package, because that one reads Date.now() for the 5-minute window while the
// gateway keeps time on its injected clock, and it re-decodes the body as a string.
import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../clock.js';
import { verifyWebhook, type VerifyWebhookResult } from '../webhooks/signature.js';

/** Kling's window: |now − webhook-timestamp| above this is refused, which bounds replays. */
const TOLERANCE_SECONDS = 5 * 60;

export type KlingCallbackVerifier = (headers: IncomingHttpHeaders, rawBody: Uint8Array) => VerifyWebhookResult;

export function createKlingCallbackVerifier(deps: { secret: string; clock: Clock }): KlingCallbackVerifier {
  return (headers, rawBody) =>
    verifyWebhook({ secret: deps.secret, headers, body: rawBody, nowMs: deps.clock.now(), toleranceSeconds: TOLERANCE_SECONDS });
}

// Sends the webhook outbox: claims due deliveries with a lease, POSTs each signed, and records every
// attempt. Work comes from the database, so a restarted process resumes the retries of the last one.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVER_ADDRESS } from '@opentelemetry/semantic-conventions';
import { Agent, request } from 'undici';
import type { Logger } from 'pino';
import { computeBackoffMs } from '../backoff.js';
import type { Clock } from '../clock.js';
import { createWorkLoop } from '../work-loop.js';
import type { WebhookDeliveryRow } from '../db/schema.js';
import type { Store, WebhookAttemptOutcome } from '../db/store.js';
import { untracedJobSpans, type JobSpans } from '../telemetry/job-spans.js';
import { webhookHeaders } from './signature.js';
import { createWebhookConnector, targetRefusalOf, type WebhookLookup } from './webhook-connector.js';
import { DEFAULT_WEBHOOK_TARGETS, webhookUrlRefusal, type WebhookTargetPolicy } from './webhook-target.js';

export interface WebhookAttemptResult {
  deliveryId: string;
  taskId: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  outcome: WebhookAttemptOutcome['status'];
}

/** A host's circuit breaker opened (its deliveries are skipped until `until`) or closed again. */
export interface WebhookBreakerEvent {
  /** `host[:port]` of the receiver URL. */
  host: string;
  state: 'open' | 'closed';
  consecutiveFailures: number;
  /** While open: when the next delivery to the host is tried (one probe). */
  until: number | null;
}

/** What env cannot set; tests shorten the retry schedule with these. */
export interface WebhookSenderTuning {
  /**
   * Upper bound of the first retry delay, in milliseconds; doubles per failed attempt (full jitter).
   * @default 1_000
   */
  retryBaseMs?: number;
  /**
   * No retry delay exceeds this, in milliseconds.
   * @default 600_000 // 10 minutes
   */
  retryMaxMs?: number;
  /**
   * Attempts before a delivery is given up, whatever its age. At the 10-minute cap full jitter waits
   * 5 minutes on average, so 24 hours take about 290 attempts: by default the age limit ends retries.
   * @default 300
   */
  maxAttempts?: number;
  /**
   * Deliveries in flight at once; one slow receiver must not hold up everyone else's. Keys take turns
   * for them: one claimed batch holds at most this many of one key's deliveries, in round-robin order.
   * @default 8
   */
  concurrency?: number;
  /**
   * Failures in a row (no answer, timeout, connection error, HTTP 5xx or 429) after which a receiver's
   * host is skipped for `breakerCoolDownMs`: its due deliveries are rescheduled without counting an
   * attempt. After the cool-down one delivery probes the host; a success closes the breaker.
   * @default 5
   */
  breakerFailures?: number;
  /**
   * How long an open breaker skips its host, in milliseconds.
   * @default 30_000
   */
  breakerCoolDownMs?: number;
  /** Told when a host's breaker opens or closes. */
  onBreaker?: (event: WebhookBreakerEvent) => void;
  /**
   * Longest sleep between two looks at the database when nothing is due, in milliseconds.
   * @default 1_000
   */
  idleMs?: number;
  /** Told after each attempt has been recorded. */
  onAttempt?: (result: WebhookAttemptResult) => void;
}

export interface WebhookSenderOptions extends WebhookSenderTuning {
  store: Store;
  clock: Clock;
  logger: Logger;
  /**
   * One attempt, from connecting to the last response byte, in milliseconds.
   * @default 5_000
   */
  timeoutMs?: number;
  /**
   * A delivery still failing this long after its event is given up (status failed), in seconds.
   * @default 86_400 // 24 hours
   */
  maxAgeSeconds?: number;
  /**
   * How long a claimed delivery is this sender's before another may take it, in milliseconds. Longer
   * than `timeoutMs`, so a slow receiver is not called twice at once.
   * @default timeoutMs + 30_000
   */
  leaseMs?: number;
  /**
   * Which receivers may be called (webhook-target.ts), checked again before each attempt and on every
   * address at connect time. A refused delivery is given up at once: retrying cannot change the answer.
   * @default DEFAULT_WEBHOOK_TARGETS
   */
  targets?: WebhookTargetPolicy;
  /** Resolves receiver host names. @default systemLookup (the OS resolver) */
  lookup?: WebhookLookup | undefined;
  /** Each attempt is a span of its task's trace. */
  jobSpans?: JobSpans | undefined;
}

/** Receivers answer with a status; anything they send beyond this is not worth reading. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export function createWebhookSender(options: WebhookSenderOptions) {
  const {
    store,
    clock,
    logger,
    timeoutMs = 5_000,
    maxAgeSeconds = 86_400,
    retryBaseMs = 1_000,
    retryMaxMs = 600_000,
    maxAttempts = 300,
    concurrency = 8,
    idleMs = 1_000,
    breakerFailures = 5,
    breakerCoolDownMs = 30_000,
  } = options;
  const leaseMs = options.leaseMs ?? timeoutMs + 30_000;
  const targets = options.targets ?? DEFAULT_WEBHOOK_TARGETS;
  const jobSpans = options.jobSpans ?? untracedJobSpans;

  // Our own agent, so stop() can close its keep-alive sockets. undici's request never follows redirects
  // unless a redirect interceptor is added: a 3xx is judged like any other non-2xx answer. Its connector
  // connects only to addresses the target policy allows (webhook-connector.ts).
  const agent = new Agent({
    connect: createWebhookConnector({ policy: targets, lookup: options.lookup, timeoutMs }),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  const stats = { attempts: 0, delivered: 0, failed: 0, deferred: 0 };

  // Per receiver host, in this process: failures in a row, and while open, until when it is skipped.
  // A host answering fine has no entry; one whose breaker closed again loses it.
  const breakers = new Map<string, { failures: number; openUntil: number; probing: boolean }>();
  const MAX_BREAKERS = 10_000;
  const hostOf = (url: string): string | null => {
    try {
      return new URL(url).host;
    } catch {
      return null;
    }
  };
  /** Null to go ahead (`probe`: the one call after a cool-down), else when to try this host's delivery next. */
  const admit = (host: string, now: number): { deferTo: number } | { probe: boolean } => {
    const breaker = breakers.get(host);
    if (!breaker || breaker.failures < breakerFailures) return { probe: false };
    if (now < breaker.openUntil) return { deferTo: breaker.openUntil };
    // Cool-down over: one delivery probes, the others wait about as long as it may take.
    if (breaker.probing) return { deferTo: now + timeoutMs };
    breaker.probing = true;
    return { probe: true };
  };
  const settleBreaker = (host: string, probe: boolean, failed: boolean, at: number) => {
    const breaker = breakers.get(host);
    if (breaker && probe) breaker.probing = false;
    if (!failed) {
      if (breaker && breaker.failures >= breakerFailures) {
        logger.info({ host }, 'webhook receiver answers again; circuit closed');
        options.onBreaker?.({ host, state: 'closed', consecutiveFailures: 0, until: null });
      }
      breakers.delete(host);
      return;
    }
    if (!breaker && breakers.size >= MAX_BREAKERS) {
      // Forget the hosts that are not skipped; they only counted failures so far.
      for (const [name, entry] of breakers) if (entry.failures < breakerFailures) breakers.delete(name);
    }
    const entry = breaker ?? { failures: 0, openUntil: 0, probing: false };
    entry.failures += 1;
    breakers.set(host, entry);
    if (entry.failures >= breakerFailures && entry.openUntil <= at) {
      entry.openUntil = at + breakerCoolDownMs;
      logger.warn({ host, consecutiveFailures: entry.failures, until: entry.openUntil }, 'webhook receiver keeps failing; circuit open, its deliveries wait');
      options.onBreaker?.({ host, state: 'open', consecutiveFailures: entry.failures, until: entry.openUntil });
    }
  };
  /** A failure that says the host is unwell, not that this one delivery was unwelcome. */
  const hostFailure = (statusCode: number | null, refused: boolean) =>
    !refused && (statusCode === null || statusCode >= 500 || statusCode === 429);

  /**
   * One POST: the status code, or an error text when no answer came; null when stop() cut it short.
   * `refused`: the target policy forbids this receiver, so the delivery is not tried again.
   */
  const post = async (
    delivery: WebhookDeliveryRow,
    secret: string,
  ): Promise<{ statusCode: number | null; error: string | null; refused?: boolean } | null> => {
    // Input validation checked the URL already; this catches rows stored before a rule or the allow-list changed.
    const refusal = webhookUrlRefusal(delivery.url, targets);
    if (refusal !== null) return { statusCode: null, error: `target refused: ${refusal}`, refused: true };
    const headers = webhookHeaders({
      secret,
      id: delivery.id,
      timestampSeconds: Math.floor(clock.now() / 1000),
      body: delivery.payload,
    });
    try {
      const response = await request(delivery.url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', 'user-agent': 'kling-gateway-webhooks', ...headers },
        body: delivery.payload,
        signal: AbortSignal.any([work.signal, AbortSignal.timeout(timeoutMs)]),
      });
      await response.body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => undefined);
      const { statusCode } = response;
      if (statusCode >= 200 && statusCode < 300) return { statusCode, error: null };
      if (statusCode >= 300 && statusCode < 400) {
        const location = response.headers['location'];
        return { statusCode, error: `HTTP ${statusCode} redirect${location ? ` to ${String(location)}` : ''} not followed` };
      }
      return { statusCode, error: `HTTP ${statusCode}` };
    } catch (error) {
      if (work.signal.aborted) return null;
      const refused = targetRefusalOf(error);
      if (refused) return { statusCode: null, error: `target refused: ${refused.message}`, refused: true };
      if (error instanceof Error && error.name === 'TimeoutError') return { statusCode: null, error: `no answer within ${timeoutMs} ms` };
      const code = (error as { code?: unknown }).code;
      const message = error instanceof Error ? error.message : String(error);
      return { statusCode: null, error: typeof code === 'string' ? `${code}: ${message}` : message };
    }
  };

  const outcomeOf = (delivery: WebhookDeliveryRow, attempt: number, ok: boolean, refused: boolean, at: number): WebhookAttemptOutcome => {
    if (ok) return { status: 'delivered' };
    if (refused) return { status: 'failed' };
    const nextAttemptAt = at + computeBackoffMs(attempt - 1, { baseMs: retryBaseMs, maxMs: retryMaxMs });
    if (attempt >= maxAttempts || nextAttemptAt > delivery.createdAt + maxAgeSeconds * 1000) return { status: 'failed' };
    return { status: 'pending', nextAttemptAt };
  };

  const deliver = async (delivery: WebhookDeliveryRow) => {
    const attempt = delivery.attempts + 1;
    const host = hostOf(delivery.url);
    const admitted = host === null ? { probe: false } : admit(host, clock.now());
    if ('deferTo' in admitted) {
      // The host's breaker is open: no call, no attempt counted; given up only once too old to retry.
      const expired = admitted.deferTo > delivery.createdAt + maxAgeSeconds * 1000;
      const moved = await store.deferWebhook(
        delivery.id,
        delivery.attempts,
        expired ? null : admitted.deferTo,
        expired ? `receiver host ${host ?? ''} kept failing; circuit open` : null,
      );
      if (moved) stats.deferred += 1;
      if (moved && expired) {
        stats.failed += 1;
        logger.warn({ deliveryId: delivery.id, taskId: delivery.taskId, host }, 'webhook given up while its receiver host is skipped');
      }
      return;
    }
    await jobSpans(
      'webhook.deliver',
      { id: delivery.taskId, traceparent: delivery.traceparent },
      async (span) => {
        span?.setAttributes({
          'kling_gateway.webhook.delivery_id': delivery.id,
          'kling_gateway.webhook.event': delivery.event,
          'kling_gateway.webhook.attempt': attempt,
          ...(host === null ? {} : { [ATTR_SERVER_ADDRESS]: host }),
        });
        const result = await attemptDelivery(delivery, attempt, host, admitted.probe);
        if (!result || !span) return;
        if (result.statusCode !== null) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, result.statusCode);
        span.setAttribute('kling_gateway.webhook.outcome', result.outcome);
        if (result.error !== null) span.setStatus({ code: SpanStatusCode.ERROR, message: result.error });
      },
      SpanKind.CLIENT,
    );
  };

  /** One attempt: POSTs, settles the host's breaker and records it; undefined when stopping cut it short. */
  const attemptDelivery = async (
    delivery: WebhookDeliveryRow,
    attempt: number,
    host: string | null,
    probe: boolean,
  ): Promise<{ statusCode: number | null; error: string | null; outcome: WebhookAttemptOutcome['status'] } | undefined> => {
    const key = await store.getApiKey(delivery.apiKeyId);
    const startedAt = clock.now();
    // The key row cannot go away (foreign key), so a missing one is a broken database, not a receiver fault.
    const posted = key ? await post(delivery, key.webhookSecret) : { statusCode: null, error: 'API key not found' };
    // Stopping aborted the request: that says nothing about the receiver, and the lease brings it back.
    if (posted === null) {
      if (host !== null && probe) {
        const breaker = breakers.get(host);
        if (breaker) breaker.probing = false;
      }
      return undefined;
    }
    const { refused = false, ...result } = posted;
    const at = clock.now();
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    if (host !== null && key) settleBreaker(host, probe, !ok && hostFailure(result.statusCode, refused), at);
    const outcome = outcomeOf(delivery, attempt, ok, refused, at);
    const recorded = await store.recordWebhookAttempt(
      delivery.id,
      { attempt, statusCode: result.statusCode, error: result.error, durationMs: at - startedAt, attemptedAt: startedAt },
      outcome,
    );
    if (!recorded) return undefined;
    stats.attempts += 1;
    const details = { deliveryId: delivery.id, taskId: delivery.taskId, attempt, statusCode: result.statusCode };
    if (outcome.status === 'delivered') {
      stats.delivered += 1;
      logger.debug(details, 'webhook delivered');
    } else if (outcome.status === 'failed') {
      stats.failed += 1;
      logger.warn({ ...details, error: result.error }, refused ? 'webhook refused by the target policy; given up' : 'webhook given up');
    } else {
      logger.debug({ ...details, error: result.error, nextAttemptAt: outcome.nextAttemptAt }, 'webhook attempt failed; will retry');
    }
    options.onAttempt?.({ deliveryId: delivery.id, taskId: delivery.taskId, attempt, ...result, outcome: outcome.status });
    return { ...result, outcome: outcome.status };
  };

  const work = createWorkLoop<WebhookDeliveryRow>({
    name: 'webhook sender',
    clock,
    logger,
    concurrency,
    idleMs,
    // At most `concurrency` of one key per batch, keys in turn: a backlog to one slow receiver takes
    // one round of the batch at most before another key's delivery goes out.
    claim: (limit) => store.claimDueWebhooks(clock.now(), limit, leaseMs, concurrency),
    nextDueAt: () => store.nextWebhookDueAt(),
    handle: deliver,
  });

  return {
    stats,
    start: () => work.start(),
    /** Looks for due deliveries now instead of at the next tick. */
    wake: () => work.wake(),
    /** Stops claiming, aborts the requests in flight (their leases bring them back) and closes sockets; idempotent. */
    async stop() {
      await work.stop();
      if (!agent.closed) await agent.close();
    },
  };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;

// Callbacks (kling-api.md sections 8 and 12.11). One scheduler serves every task: a min-heap of
// upcoming transition times and a single sleep on the injected clock until the earliest, so open
// tasks cost no timers and a manual clock in tests decides when callbacks fire.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import type { Clock } from '../../clock.js';
import { createMinHeap } from './min-heap.js';
import { signWebhook } from './webhook-signature.js';

export interface ScheduledTransition {
  /** Unix milliseconds on the injected clock. */
  at: number;
  taskId: string;
}

/**
 * Caps one sleep so a far-off transition (a slow task) never needs a timer beyond what
 * setTimeout can hold, and a clock that jumps is noticed within this long.
 */
const MAX_SLEEP_MS = 60_000;

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      resolve();
    }, { once: true });
  });
}

export interface TransitionSchedulerOptions {
  clock: Clock;
  /** Called once per transition when the clock reaches it, in time order. */
  onDue: (transition: ScheduledTransition) => void;
  log: (message: string) => void;
}

export function createTransitionScheduler(options: TransitionSchedulerOptions) {
  const { clock } = options;
  const heap = createMinHeap<ScheduledTransition>((entry) => entry.at);
  let running = false;
  let wake: AbortController | undefined;
  let loop: Promise<void> | undefined;

  function dispatchDue(): void {
    const now = clock.now();
    for (let top = heap.peek(); top !== undefined && top.at <= now; top = heap.peek()) {
      heap.pop();
      try {
        options.onDue(top);
      } catch (error) {
        options.log(`callback dispatch failed for task ${top.taskId}: ${String(error)}`);
      }
    }
  }

  async function run(): Promise<void> {
    while (running) {
      dispatchDue();
      const next = heap.peek();
      const controller = new AbortController();
      wake = controller;
      try {
        if (next === undefined) await untilAborted(controller.signal);
        else await clock.sleep(Math.min(Math.max(0, next.at - clock.now()), MAX_SLEEP_MS), controller.signal);
      } catch {
        // Woken early by an earlier transition or by stop(): look at the heap again.
      }
    }
  }

  return {
    get pending(): number {
      return heap.size;
    },
    schedule(transition: ScheduledTransition): void {
      const top = heap.peek();
      heap.push(transition);
      if (top === undefined || transition.at < top.at) wake?.abort();
    },
    start(): void {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop(): Promise<void> {
      running = false;
      wake?.abort();
      await loop;
      loop = undefined;
      heap.clear();
    },
  };
}

export type TransitionScheduler = ReturnType<typeof createTransitionScheduler>;

/** The User-Agent of Kling's callback client in a real capture. */
const KLING_CALLBACK_USER_AGENT = 'Apache-HttpClient/4.5.13 (Java/11.0.14-internal)';

export interface CallbackSenderOptions {
  clock: Clock;
  /** Per-callback connect/headers/body timeout, in ms. */
  timeoutMs: number;
  /**
   * Standard Webhooks secret (`whsec_...`); without it callbacks are unsigned, as at Kling by default.
   * Several = a secret rotation: one space-separated `v1,` entry per secret, as Kling sends for 7 days.
   */
  webhookSecret?: string | readonly string[] | undefined;
  onResult: (delivered: boolean) => void;
  log: (message: string) => void;
}

export function createCallbackSender(options: CallbackSenderOptions) {
  // Our own agent, so stop() can drop its keep-alive sockets instead of leaving them to the global one.
  const agent = new Agent({ keepAliveTimeout: 1_000, connect: { timeout: options.timeoutMs } });
  const closing = new AbortController();
  const inFlight = new Set<Promise<void>>();
  // Per task, so a task's processing callback always leaves before its terminal one.
  const chains = new Map<string, Promise<void>>();

  async function deliver(url: string, payload: string): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': KLING_CALLBACK_USER_AGENT,
    };
    if (options.webhookSecret !== undefined) {
      const id = randomUUID();
      const timestampSeconds = Math.floor(options.clock.now() / 1000);
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(timestampSeconds);
      const secrets = typeof options.webhookSecret === 'string' ? [options.webhookSecret] : options.webhookSecret;
      headers['webhook-signature'] = secrets.map((secret) => signWebhook({ secret, id, timestampSeconds, body: payload })).join(' ');
    }
    let delivered = false;
    try {
      const response = await request(url, {
        method: 'POST',
        headers,
        body: payload,
        dispatcher: agent,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        signal: closing.signal,
      });
      await response.body.dump();
      delivered = response.statusCode >= 200 && response.statusCode < 300;
      if (!delivered) options.log(`callback to ${url} answered HTTP ${response.statusCode}`);
    } catch (error) {
      options.log(`callback to ${url} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    options.onResult(delivered);
  }

  return {
    /** Queues one POST of `body` (the bare task object); failures are counted and logged, never thrown. */
    send(taskId: string, url: string, body: Record<string, unknown>): void {
      if (closing.signal.aborted) return;
      const payload = JSON.stringify(body);
      const previous = chains.get(taskId) ?? Promise.resolve();
      const next = previous.then(() => deliver(url, payload));
      chains.set(taskId, next);
      inFlight.add(next);
      void next.finally(() => {
        inFlight.delete(next);
        if (chains.get(taskId) === next) chains.delete(taskId);
      });
    },
    /** Resolves once every callback queued so far has been delivered or has failed. */
    async flush(): Promise<void> {
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    async close(): Promise<void> {
      closing.abort();
      await Promise.all(inFlight);
      await agent.destroy();
    },
  };
}

export type CallbackSender = ReturnType<typeof createCallbackSender>;

// Open-loop load at a fixed rate: request n is due at start + n / rate, whether or not earlier answers
// are back. autocannon's own rate limit is not that: each connection sends back to back until it has
// made its share for the second, then waits for the next second, so "500/s" arrives as a burst at
// saturation speed at the top of every second. Latency here runs from the moment a request was due,
// so time spent waiting for a free connection counts too (no coordinated omission).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { distribution, type Distribution } from './report.js';

export interface PacedLoadOptions {
  url: string;
  /** Sockets to the server; a request due while all are busy waits for one (and that wait counts). */
  connections: number;
  /** Requests per second, evenly spaced. */
  rate: number;
  amount: number;
  headers: Record<string, string>;
  /** The body of request n. */
  body: (n: number) => string;
  onResponse: (status: number, body: string) => void;
}

export interface PacedLoadResult {
  seconds: number;
  sent: number;
  errors: number;
  latencyMs: Distribution;
}

export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, { connections: options.connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const intervalMs = 1000 / options.rate;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];

  const send = async (n: number, dueAt: number) => {
    try {
      const response = await pool.request({
        path: target.pathname,
        method: 'POST',
        headers: options.headers,
        body: options.body(n),
      });
      const text = await response.body.text();
      latencies.push(performance.now() - dueAt);
      options.onResponse(response.statusCode, text);
    } catch {
      errors += 1;
    }
  };

  try {
    for (let n = 0; n < options.amount; n++) {
      const dueAt = started + n * intervalMs;
      const wait = dueAt - performance.now();
      // Timers are coarse: sleep only when the next request is at least a millisecond away, and send
      // everything already due at once, so the rate holds on average even when the loop falls behind.
      if (wait >= 1) await sleep(wait);
      inFlight.push(send(n, dueAt));
    }
    await Promise.all(inFlight);
  } finally {
    await pool.close();
  }
  return {
    seconds: (performance.now() - started) / 1000,
    sent: options.amount,
    errors,
    latencyMs: distribution(latencies),
  };
}

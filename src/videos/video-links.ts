// Stable, signed, expiring links to a task's videos on the gateway itself (`/videos/<taskId>/<n>`),
// so a <video> element can play them without an Authorization header.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

export interface VideoLinksOptions {
  /** HMAC key; instances behind one load balancer must share it. */
  secret: string;
  clock: Clock;
  /** Scheme, host and port the links start with. */
  baseUrl: () => string;
  /**
   * How long a link stays valid.
   * @default 86_400_000 (24 h)
   */
  ttlMs?: number;
}

export function createVideoLinks({ secret, clock, baseUrl, ttlMs = 86_400_000 }: VideoLinksOptions) {
  const signature = (taskId: string, n: number, expires: number) =>
    createHmac('sha256', secret).update(`${taskId}/${n}/${expires}`).digest('base64url');

  return {
    /** A link to video `n` of a task, valid for ttlMs. */
    link(taskId: string, n: number): string {
      // Rounded up to the hour, so one task's link stays the same for an hour and caches well.
      const expires = Math.ceil((clock.now() + ttlMs) / 3_600_000) * 3600;
      const url = new URL(`/videos/${encodeURIComponent(taskId)}/${n}`, baseUrl());
      url.searchParams.set('expires', String(expires));
      url.searchParams.set('sig', signature(taskId, n, expires));
      return url.href;
    },
    verify(taskId: string, n: number, expires: string | null, sig: string | null): boolean {
      const seconds = Number(expires);
      if (!sig || !Number.isInteger(seconds) || seconds * 1000 < clock.now()) return false;
      const expected = Buffer.from(signature(taskId, n, seconds));
      const given = Buffer.from(sig);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}

export type VideoLinks = ReturnType<typeof createVideoLinks>;

/** Kling's result URLs expire 30 days after the task finished; a signed CDN URL may say so itself. */
export const UPSTREAM_URL_LIFETIME_MS = 30 * 24 * 3600 * 1000;

export function upstreamExpiry(url: string, completedAt: number | null): number | null {
  try {
    const params = new URL(url).searchParams;
    const raw = params.get('Expires') ?? params.get('expires');
    if (raw !== null && /^\d+$/.test(raw)) return Number(raw) * 1000;
  } catch {
    // Not a URL we can read; fall back to Kling's documented lifetime.
  }
  return completedAt === null ? null : completedAt + UPSTREAM_URL_LIFETIME_MS;
}

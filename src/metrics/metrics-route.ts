// `GET /metrics` in Prometheus' text format. With a token configured, a scraper must send it as a
// bearer token; the comparison takes the same time whatever was sent.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { bearerToken } from '../server/caller.js';

export interface MetricsRouteOptions {
  registry: Registry;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string | undefined;
  logger: Logger;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

export function createMetricsRoute({ registry, token, logger }: MetricsRouteOptions) {
  const expected = token === undefined ? null : digest(token);
  return async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (expected) {
      const presented = bearerToken(req.headers.authorization);
      if (presented === null || !timingSafeEqual(digest(presented), expected)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain; charset=utf-8' }).end('unauthorized\n');
        return;
      }
    }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (error) {
      // A gauge read from the database failed: fail the scrape so it shows, rather than serve stale values.
      logger.error({ err: error }, 'could not collect metrics');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('metrics unavailable\n');
    }
  };
}

// A real HTTP receiver for outgoing webhooks: records every request and answers with scripted statuses.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTeardown } from './leftovers.js';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Where a scripted 3xx points; a request arriving here means a redirect was followed. */
export const REDIRECT_TARGET_PATH = '/redirect-target';

export async function startWebhookReceiver() {
  const received: ReceivedRequest[] = [];
  const scripts = new Map<string, number[]>();
  const waiters: { path: string; count: number; resolve: () => void }[] = [];
  const requestsTo = (path: string) => received.filter((r) => r.path === path);

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = scripts.get(path)?.shift() ?? 200;
      if (status >= 300 && status < 400) res.setHeader('location', `${REDIRECT_TARGET_PATH}${path}`);
      res.statusCode = status;
      res.end();
      for (const waiter of [...waiters]) {
        if (requestsTo(waiter.path).length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTeardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const base = `http://${host}`;

  return {
    received,
    requestsTo,
    /**
     * `127.0.0.1:<port>`: a loopback receiver is refused as a webhook target unless the gateway lists it,
     * so pass `{ WEBHOOK_ALLOWED_HOSTS: receiver.host }` in the gateway's env.
     */
    host,
    url: (path: string) => base + path,
    /** The next answers for `path`, in order; after them it answers 200. */
    respond(path: string, statuses: number[]) {
      scripts.set(path, [...statuses]);
    },
    /** Resolves once `path` has received `count` requests. */
    waitFor(path: string, count = 1): Promise<ReceivedRequest[]> {
      if (requestsTo(path).length >= count) return Promise.resolve(requestsTo(path));
      return new Promise((resolve) => waiters.push({ path, count, resolve: () => resolve(requestsTo(path)) }));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

// node:http with /healthz, /readyz, yoga on /graphql (HTTP, SSE, GraphiQL) and graphql-ws beside it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { CallerResolver } from './caller.js';
import { attachGraphqlWs } from './ws.js';
import type { GatewayYoga } from './yoga.js';

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  check(): Promise<void>;
}

export interface GatewayHttpOptions {
  yoga: GatewayYoga;
  resolveCaller: CallerResolver;
  host: string;
  port: number;
  readiness: ReadinessCheck[];
  /** @default 2_000 */
  readinessTimeoutMs?: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export function createGatewayHttpServer(options: GatewayHttpOptions) {
  const { yoga, readiness, readinessTimeoutMs = 2_000 } = options;

  const ready = async () => {
    const results = await Promise.all(
      readiness.map(async ({ name, ...dependency }) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            dependency.check(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out')), readinessTimeoutMs);
            }),
          ]);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, error instanceof Error ? error.message : 'failed'] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ok: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz' && (req.method === 'GET' || req.method === 'HEAD')) {
      void ready().then(({ ok, checks }) => sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks }));
      return;
    }
    // The adapter writes the response itself, streaming SSE, and passes { req, res } as server context.
    void yoga(req, res);
  };

  const server = createServer(handle);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const ws = attachGraphqlWs({ server, yoga, resolveCaller: options.resolveCaller });
  let url: URL | undefined;

  return {
    server,
    async listen(): Promise<URL> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      url = new URL(`http://${host}:${port}/graphql`);
      return url;
    },
    get url() {
      return url;
    },
    async close() {
      if (!server.listening) return;
      await ws.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive and SSE connections would hold close() open indefinitely.
      server.closeIdleConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

export type GatewayHttpServer = ReturnType<typeof createGatewayHttpServer>;

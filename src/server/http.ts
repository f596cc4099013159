// node:http with the demo page on /, /healthz, /readyz, yoga on /graphql (HTTP, SSE, GraphiQL), graphql-ws beside it, and MCP on /mcp.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { KlingCallbackHandler } from '../tasks/kling-callback.js';
import type { KlingCallbackVerifier } from '../tasks/kling-callback-signature.js';
import { DEMO_ASSETS, type DemoAsset } from '../web/demo-page.js';
import type { CallerResolver } from './caller.js';
import { createKeyStreams, type KeyStreams } from './key-streams.js';
import type { OperationDrain } from './operation-drain.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';
import { attachGraphqlWs, type GatewayWsOptions, type WsLimits } from './ws.js';
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
  /** Larger request bodies are refused with 413 before any parsing. */
  maxBodyBytes: number;
  ws: WsLimits;
  /** Trusted documents for WebSocket operations (yoga applies them to HTTP and SSE). */
  trustedDocuments?: GatewayWsOptions['trustedDocuments'];
  /** Each key's sockets, SSE subscriptions and MCP waits; one built from `ws.maxConnectionsPerKey` when absent. */
  keyStreams?: KeyStreams | undefined;
  /**
   * Connections that have not sent a whole request head (headersMs) or request (requestMs) by then
   * are closed: slow-header clients cannot hold sockets. Responses (SSE, MCP waits) are not bound.
   * @default { headersMs: 10_000, requestMs: 30_000 }
   */
  timeouts?: { headersMs: number; requestMs: number } | undefined;
  /** Receives Kling's callbacks on `POST /kling/callback/<taskId>/<token>`. */
  onKlingCallback?: KlingCallbackHandler | undefined;
  /** When set (KLING_WEBHOOK_SECRET), a callback must also carry Kling's valid signature, else 401. */
  verifyKlingCallback?: KlingCallbackVerifier | undefined;
  /** Serves `GET /videos/<taskId>/<n>`: durable links to a task's videos. */
  onVideo?: ((req: IncomingMessage, res: ServerResponse, taskId: string, n: number) => Promise<void>) | undefined;
  /** Serves MCP (Streamable HTTP) on `/mcp`; it authenticates and answers the request itself. */
  onMcp?: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  /** @default 2_000 */
  readinessTimeoutMs?: number;
  /** Where a failing readiness check's error goes; `/readyz` itself says only `fail`. */
  logger?: Logger | undefined;
  /** Serves Prometheus metrics on `GET /metrics`; absent when METRICS is off. */
  onMetrics?: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  /** Lets close() refuse new operations, end SSE subscriptions and wait for running operations. */
  drain?: OperationDrain | undefined;
  /**
   * How long close() waits for requests and operations in flight before it destroys the sockets left.
   * @default 10_000 // 10 seconds
   */
  shutdownGraceMs?: number;
  /** Serves the demo page on `GET /` and its script and stylesheet under `/demo/`. */
  demoPage?: boolean;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * The demo page runs only its own script and stylesheet, talks only to this origin and writes no HTML
 * from strings (Trusted Types enforce that in Chromium). media-src is the one wide directive: the
 * video URLs point at Kling's CDN (https, hosts not fixed) or at the simulator (http on a loopback
 * port chosen at start-up), so it allows the http: and https: schemes rather than a host list. That
 * is narrower than `*` only in naming the schemes, and media cannot run script.
 */
const DEMO_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "media-src 'self' http: https:",
  "base-uri 'none'",
  // The forms are handled by script; without it they must not send the pasted key anywhere.
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

function sendDemoAsset(req: IncomingMessage, res: ServerResponse, asset: DemoAsset) {
  const headers = {
    'content-type': asset.contentType,
    'cache-control': 'no-cache',
    etag: asset.etag,
    'content-security-policy': DEMO_CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

/** Kling's task objects are small; anything bigger is not a callback. */
const CALLBACK_MAX_BYTES = 256 * 1024;

async function receiveKlingCallback(
  req: IncomingMessage,
  res: ServerResponse,
  handler: KlingCallbackHandler,
  verify: KlingCallbackVerifier | undefined,
  taskId: string,
  token: string,
) {
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > CALLBACK_MAX_BYTES) {
        sendJson(res, 413, { error: 'payload too large' });
        return;
      }
      chunks.push(chunk);
    }
    // Checked over the bytes as received, before anything reads them.
    const raw = Buffer.concat(chunks);
    const signature = verify?.(req.headers, raw);
    if (signature && !signature.ok) {
      sendJson(res, 401, { error: 'invalid signature', reason: signature.reason });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      sendJson(res, 400, { error: 'invalid JSON' });
      return;
    }
    const outcome = await handler(taskId, token, body);
    const status = outcome === 'unknown-task' ? 404 : outcome === 'bad-body' ? 400 : 200;
    sendJson(res, status, { outcome });
  } catch {
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
  }
}

/**
 * yoga sets no body limit, so it is enforced here from Content-Length; a body of unknown length
 * (chunked) is refused rather than read without a bound.
 */
function bodyWithinLimit(req: IncomingMessage, res: ServerResponse, maxBytes: number): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
  const length = req.headers['content-length'];
  const unbounded = length === undefined && req.headers['transfer-encoding'] !== undefined;
  if (!unbounded && (length === undefined || Number(length) <= maxBytes)) return true;
  // Do not read the rest of an oversized body; close the connection once the answer is out.
  res.setHeader('connection', 'close');
  req.resume();
  if (unbounded) sendJson(res, 411, { errors: [{ message: 'A Content-Length header is required.' }] });
  else sendJson(res, 413, { errors: [{ message: `The request body is larger than ${maxBytes} bytes.` }] });
  return false;
}

/** Waits for `work`, but no later than `deadline` (a performance.now() time). */
async function beforeDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
  });
  try {
    await Promise.race([work, timeUp]);
  } finally {
    clearTimeout(timer);
  }
}

export function createGatewayHttpServer(options: GatewayHttpOptions) {
  const { yoga, readiness, readinessTimeoutMs = 2_000, shutdownGraceMs = 10_000 } = options;

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
          // /readyz answers anyone: a driver's message (hosts, ports, user names) goes to the log only.
          options.logger?.warn({ err: error, check: name }, 'readiness check failed');
          return [name, 'fail'] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ok: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
  };

  let draining = false;
  let inFlight = 0;
  const idleWaiters = new Set<() => void>();
  const requestsSettled = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.add(resolve)));
  const track = (res: ServerResponse) => {
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
      if (inFlight > 0) return;
      for (const wake of idleWaiters) wake();
      idleWaiters.clear();
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const path = req.url?.split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (draining) {
      // A request on a connection kept alive from before; /readyz lands here too and tells balancers to move on.
      res.setHeader('connection', 'close');
      sendJson(res, 503, { status: 'shutting down', errors: [{ message: 'The gateway is shutting down.', extensions: { code: 'SHUTTING_DOWN' } }] });
      return;
    }
    track(res);
    if (path === '/metrics' && options.onMetrics) {
      void options.onMetrics(req, res);
      return;
    }
    if (path === '/readyz' && (req.method === 'GET' || req.method === 'HEAD')) {
      void ready().then(({ ok, checks }) => sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks }));
      return;
    }
    const demoAsset = options.demoPage && (req.method === 'GET' || req.method === 'HEAD') ? DEMO_ASSETS.get(path ?? '') : undefined;
    if (demoAsset) {
      sendDemoAsset(req, res, demoAsset);
      return;
    }
    if (!bodyWithinLimit(req, res, options.maxBodyBytes)) return;
    const callback = /^\/kling\/callback\/([\w-]+)\/([\w-]+)$/.exec(path ?? '');
    if (callback && options.onKlingCallback) {
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: 'method not allowed' });
        return;
      }
      void receiveKlingCallback(req, res, options.onKlingCallback, options.verifyKlingCallback, callback[1] ?? '', callback[2] ?? '');
      return;
    }
    const video = /^\/videos\/([\w-]+)\/(\d{1,3})$/.exec(path ?? '');
    if (video && options.onVideo && (req.method === 'GET' || req.method === 'HEAD')) {
      void options.onVideo(req, res, video[1] ?? '', Number(video[2]));
      return;
    }
    if (path === '/mcp' && options.onMcp) {
      void options.onMcp(req, res);
      return;
    }
    // The adapter writes the response itself, streaming SSE, and passes { req, res } as server context.
    void yoga(req, res, { requestId });
  };

  const requestMs = options.timeouts?.requestMs ?? 30_000;
  // node refuses a head timeout longer than the request's.
  const headersMs = Math.min(options.timeouts?.headersMs ?? 10_000, requestMs);
  const server = createServer(
    {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      // node checks both timeouts on this interval (30 s by default), which would let a slow-header socket stay that much longer.
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(headersMs / 4))),
    },
    handle,
  );
  const sockets = new Set<Socket>();
  // One listener for every socket (node calls it with the socket as `this`): a WebSocket keeps its
  // TCP socket for hours, and a closure per socket (with once()'s wrapper) would stay with it.
  function untrack(this: Socket) {
    sockets.delete(this);
  }
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', untrack);
  });
  const ws = attachGraphqlWs({
    server,
    yoga,
    resolveCaller: options.resolveCaller,
    limits: options.ws,
    keyStreams: options.keyStreams ?? createKeyStreams({ maxPerKey: options.ws.maxConnectionsPerKey }),
    trustedDocuments: options.trustedDocuments,
  });
  let url: URL | undefined;
  let closing: Promise<void> | undefined;

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
    /**
     * Stops accepting connections, answers new requests 503 and refuses new operations, ends SSE
     * subscriptions, gives requests and operations in flight until the grace period ends, then closes
     * the WebSockets (1001, going away) and destroys whatever sockets are left; idempotent.
     */
    close(): Promise<void> {
      closing ??= (async () => {
        if (!server.listening) return;
        const deadline = performance.now() + shutdownGraceMs;
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        options.drain?.begin();
        await beforeDeadline(Promise.all([requestsSettled(), options.drain?.settled()]), deadline);
        // After the operations in flight, so a mutation sent over a WebSocket still gets its answer.
        await beforeDeadline(ws.close(), deadline);
        // Keep-alive sockets idle since their last answer, and anything still open at the deadline.
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}

export type GatewayHttpServer = ReturnType<typeof createGatewayHttpServer>;

// `/mcp`: MCP over Streamable HTTP, stateless. Each POST gets its own server and transport, so any
// instance behind a load balancer can answer any request and nothing is kept between requests.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from '../logger.js';
import type { CallerResolver } from '../server/caller.js';
import type { McpToolServerFactory } from './mcp-server.js';

export interface McpRouteOptions {
  resolveCaller: CallerResolver;
  createServer: McpToolServerFactory;
  logger: Logger;
  /** Larger request bodies are refused with 413; the same bound as GraphQL requests. */
  maxBodyBytes: number;
  /**
   * The per-key limiter GraphQL operations draw from: every MCP request (initialize, tools/list,
   * tools/call, notifications…) costs one point, and over the limit it is answered 429 with Retry-After.
   */
  rateLimiter?: RateLimiterAbstract | undefined;
}

// JSON-RPC leaves -32000..-32099 to servers; -32001 is what MCP servers commonly answer for missing auth.
const UNAUTHORIZED = -32001;
const FORBIDDEN = -32003;
const METHOD_NOT_ALLOWED = -32000;
const INTERNAL_ERROR = -32603;
const RATE_LIMITED = -32029;

function sendRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

export function createMcpRoute(options: McpRouteOptions) {
  const { resolveCaller, createServer, logger } = options;
  /** Null when the key is within its rate limit (one point charged), else the seconds until it is. */
  const overLimit = async (apiKeyId: string): Promise<number | null> => {
    try {
      await options.rateLimiter?.consume(apiKeyId, 1);
      return null;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
    }
  };

  return async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Stateless: there is no session to open a GET stream on or to DELETE.
    if (req.method !== 'POST') {
      req.resume();
      sendRpcError(res, 405, METHOD_NOT_ALLOWED, 'Method not allowed: this endpoint takes POST (stateless Streamable HTTP).', {
        allow: 'POST',
      });
      return;
    }
    try {
      const caller = await resolveCaller(req.headers.authorization, req.socket.remoteAddress);
      if (caller.apiKeyId === null) {
        req.resume();
        if (caller.throttledSeconds) {
          const retryAfter = caller.throttledSeconds;
          sendRpcError(res, 429, RATE_LIMITED, `Too many wrong tokens from this address; retry after ${retryAfter} s.`, {
            'retry-after': String(retryAfter),
          });
          return;
        }
        // The admin token administers keys; generating videos needs a key that credits can be held from.
        if (caller.isAdmin) {
          sendRpcError(res, 403, FORBIDDEN, 'The admin token cannot call tools; send an API key: "Authorization: Bearer <apiKey>".');
          return;
        }
        sendRpcError(res, 401, UNAUTHORIZED, 'A valid API key is required: send "Authorization: Bearer <apiKey>".', {
          'www-authenticate': 'Bearer realm="kling-gateway"',
        });
        return;
      }
      const retryAfter = await overLimit(caller.apiKeyId);
      if (retryAfter !== null) {
        req.resume();
        sendRpcError(res, 429, RATE_LIMITED, `Too many requests; retry after ${retryAfter} s.`, { 'retry-after': String(retryAfter) });
        return;
      }
      const server = createServer(caller.apiKeyId);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: options.maxBodyBytes });
      // Closing the server aborts a tool still waiting on its task once the client has gone.
      res.once('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res);
    } catch (error) {
      logger.error({ err: error }, 'MCP request failed');
      if (!res.headersSent) sendRpcError(res, 500, INTERNAL_ERROR, 'Internal error.');
      else res.end();
    }
  };
}

export type McpRoute = ReturnType<typeof createMcpRoute>;

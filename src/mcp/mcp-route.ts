// `/mcp`: MCP over Streamable HTTP, stateless. Each POST gets its own server and transport, so any
// instance behind a load balancer can answer any request and nothing is kept between requests.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Logger } from '../logger.js';
import type { CallerResolver } from '../server/caller.js';
import type { McpToolServerFactory } from './mcp-server.js';

export interface McpRouteOptions {
  resolveCaller: CallerResolver;
  createServer: McpToolServerFactory;
  logger: Logger;
  /** Larger request bodies are refused with 413; the same bound as GraphQL requests. */
  maxBodyBytes: number;
}

// JSON-RPC leaves -32000..-32099 to servers; -32001 is what MCP servers commonly answer for missing auth.
const UNAUTHORIZED = -32001;
const FORBIDDEN = -32003;
const METHOD_NOT_ALLOWED = -32000;
const INTERNAL_ERROR = -32603;

function sendRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

export function createMcpRoute(options: McpRouteOptions) {
  const { resolveCaller, createServer, logger } = options;

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
      const caller = await resolveCaller(req.headers.authorization);
      if (caller.apiKeyId === null) {
        req.resume();
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

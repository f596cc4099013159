// graphql-ws on the HTTP server's /graphql path. Every operation goes through yoga.getEnveloped, so
// WebSocket gets the same parse/validate caches, context, plugins and error masking as HTTP.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { DocumentNode, ExecutionArgs, GraphQLError, GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createGraphQLError } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Caller, CallerResolver } from './caller.js';
import { isGraphQLError } from './errors.js';
import type { GatewayYoga } from './yoga.js';

/** The part of yoga.getEnveloped() used here; envelop types it loosely. */
interface Enveloped {
  schema: GraphQLSchema;
  parse: (source: string) => DocumentNode;
  validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
  contextFactory: () => Promise<unknown>;
  execute: EnvelopedRoot['execute'];
  subscribe: EnvelopedRoot['subscribe'];
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export interface WsLimits {
  /** Larger messages close the socket (1009). */
  maxPayloadBytes: number;
  /** Open sockets one API key may hold; more are closed with TOO_MANY_CONNECTIONS. */
  maxConnectionsPerKey: number;
  /** Operations one socket may run at once; more are answered with an error. */
  maxSubscriptionsPerConnection: number;
  /** A socket that has not sent connection_init by then is closed with 4408. */
  connectionInitTimeoutMs: number;
  /** Ping interval; 0 disables. */
  keepAliveMs: number;
}

export interface GatewayWsOptions {
  server: Server;
  yoga: GatewayYoga;
  resolveCaller: CallerResolver;
  limits: WsLimits;
}

/**
 * The errors that reject one operation, rebuilt for graphql-ws. It takes only instances of its own
 * GraphQLError class and closes the whole socket (4500) on anything else. Where graphql is loaded
 * twice (CJS and ESM, as under vitest), errors made in our modules are of the other class. yoga's
 * factory uses the copy graphql-ws uses. `extensions.http` is HTTP's business and is dropped.
 */
function operationErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((error) => {
    const { http: _http, ...extensions } = error.extensions;
    return createGraphQLError(error.message, {
      nodes: error.nodes ?? null,
      source: error.source ?? null,
      positions: error.positions ?? null,
      path: error.path ?? null,
      originalError: error.originalError ?? null,
      extensions,
    });
  });
}

/** 1008 (policy violation): graphql-ws reserves 4429 for a repeated connection_init. */
const TOO_MANY_CONNECTIONS = 1008;

export function attachGraphqlWs({ server, yoga, resolveCaller, limits }: GatewayWsOptions) {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: limits.maxPayloadBytes });
  const callers = new WeakMap<object, Caller>();
  const socketsPerKey = new Map<string, number>();
  const release = (keyId: string) => {
    const left = (socketsPerKey.get(keyId) ?? 1) - 1;
    if (left <= 0) socketsPerKey.delete(keyId);
    else socketsPerKey.set(keyId, left);
  };

  const disposable = useServer(
    {
      // The enveloped execute/subscribe ride on rootValue; graphql-ws hands the args straight back.
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
      onConnect: async (ctx) => {
        const caller = await resolveCaller(ctx.connectionParams?.['authorization']);
        if (caller.rejected) {
          ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden: invalid API key');
          return false;
        }
        const keyId = caller.apiKeyId;
        if (keyId !== null) {
          const open = socketsPerKey.get(keyId) ?? 0;
          if (open >= limits.maxConnectionsPerKey) {
            ctx.extra.socket.close(TOO_MANY_CONNECTIONS, 'Too many connections for this API key');
            return false;
          }
          socketsPerKey.set(keyId, open + 1);
          ctx.extra.socket.once('close', () => release(keyId));
        }
        callers.set(ctx.extra.socket, caller);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already reserved this operation's id in ctx.subscriptions, so it counts itself.
        if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptionsPerConnection) {
          return [createGraphQLError('Too many operations on this connection.', { extensions: { code: 'RATE_LIMITED' } })];
        }
        const caller = callers.get(ctx.extra.socket);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          caller,
          // The socket carries many operations; each gets its own id in the request log.
          requestId: randomUUID(),
        }) as Enveloped;
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // A syntax error rejects this one operation; the socket stays open.
          if (isGraphQLError(error)) return operationErrors([error]);
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return operationErrors(errors);
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        return args;
      },
    },
    wss,
    limits.keepAliveMs,
  );

  return {
    async close() {
      // dispose() closes every socket with 1001 (going away) and completes their operations.
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

// graphql-ws on the HTTP server's /graphql path. Every operation goes through yoga.getEnveloped, so
// WebSocket gets the same parse/validate caches, context, plugins and error masking as HTTP.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DocumentNode, ExecutionArgs, ExecutionResult, FormattedExecutionResult, GraphQLError, GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { createGraphQLError } from 'graphql-yoga';
import { WebSocket, WebSocketServer } from 'ws';
import { authorizationParam, type Caller, type CallerResolver } from './caller.js';
import { isGraphQLError } from './errors.js';
import type { KeyStreams } from './key-streams.js';
import { trustedOperation, type TrustedDocuments } from './trusted-documents.js';
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
  /**
   * Open streams one API key may hold (sockets, SSE subscriptions, MCP waits: enforced by the
   * KeyStreams built from it); a socket over it is closed with TOO_MANY_CONNECTIONS.
   */
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
  /** Counts each key's sockets with its other streams, and closes them when the key is revoked. */
  keyStreams: KeyStreams;
  /** Operations sent by id; with `only`, the only ones that run (the admin token excepted). */
  trustedDocuments?: { documents: TrustedDocuments; only: boolean } | undefined;
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

/**
 * An execution result without `extensions.http`, or undefined when it has none. yoga's errors carry
 * it (401, 429, 400 …) as a hint for the HTTP status, which means nothing on a socket.
 */
function withoutHttpExtensions(result: ExecutionResult): FormattedExecutionResult | undefined {
  const hasHttp = (extensions: Readonly<Record<string, unknown>> | undefined) => extensions !== undefined && 'http' in extensions;
  if (!hasHttp(result.extensions) && !result.errors?.some((error) => hasHttp(error.extensions))) return undefined;
  const { http: _http, ...extensions } = result.extensions ?? {};
  return {
    ...result,
    errors: result.errors?.map((error) => {
      const { extensions: { http: _errorHttp, ...rest } = {}, ...formatted } = error.toJSON();
      return Object.keys(rest).length > 0 ? { ...formatted, extensions: rest } : formatted;
    }),
    extensions: Object.keys(extensions).length > 0 ? extensions : undefined,
  };
}

/** 1008 (policy violation): graphql-ws reserves 4429 for a repeated connection_init. */
const TOO_MANY_CONNECTIONS = 1008;

/**
 * Bad, throttled or revoked credentials close with 4403 (Forbidden), as the contract (api.md) fixes.
 * graphql-ws's client retries 4403 by default (about 40 s), so the README shows the `shouldRetry`
 * that stops on it; the reason says what went wrong, for clients that surface it.
 */
function closeForbidden(socket: WebSocket, reason: string) {
  socket.close(CloseCode.Forbidden, reason);
}
const REVOKED_REASON = 'Forbidden: API key revoked';

/**
 * graphql-ws keeps the HTTP upgrade request in ctx.extra for as long as the socket lives. Nothing
 * here reads it after the handshake (the caller comes from connection_init), and with its headers
 * and stream state it is about 1 KB per socket, so it is let go.
 */
function dropUpgradeRequest(extra: Extra) {
  (extra as { request: Extra['request'] | undefined }).request = undefined;
}

/**
 * Pings every open socket each `intervalMs` and terminates the ones that have not answered the
 * previous ping by then: graphql-ws's keep-alive, with one timer for all sockets instead of an
 * interval (and a pong timer) per socket.
 */
function startKeepAlive(wss: WebSocketServer, intervalMs: number) {
  if (intervalMs <= 0) return () => undefined;
  const unanswered = new Set<WebSocket>();
  // One function for every socket; ws calls it with the socket as `this`.
  function answered(this: WebSocket) {
    unanswered.delete(this);
  }
  wss.on('connection', (socket) => socket.on('pong', answered));
  const timer = setInterval(() => {
    // A socket closed since its ping is already CLOSED, and terminate() leaves it alone.
    for (const socket of unanswered) socket.terminate();
    unanswered.clear();
    for (const socket of wss.clients) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      unanswered.add(socket);
      socket.ping();
    }
  }, intervalMs);
  // The sockets keep the process alive while they are open; the timer needs not.
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Closes with 4408 a socket that sends no connection_init within `timeoutMs`. graphql-ws has this
 * too, but its timer stays referenced from the socket's close handler for the socket's whole life;
 * this one is let go at connection_init.
 */
function startConnectionInitDeadline(wss: WebSocketServer, timeoutMs: number) {
  const deadlines = new Map<WebSocket, NodeJS.Timeout>();
  wss.on('connection', (socket) => {
    deadlines.set(
      socket,
      setTimeout(() => {
        deadlines.delete(socket);
        socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
      }, timeoutMs),
    );
  });
  return {
    /** connection_init arrived, or the socket closed first. */
    met(socket: WebSocket) {
      clearTimeout(deadlines.get(socket));
      deadlines.delete(socket);
    },
    stop() {
      for (const timer of deadlines.values()) clearTimeout(timer);
      deadlines.clear();
    },
  };
}

export function attachGraphqlWs({ server, yoga, resolveCaller, limits, keyStreams, trustedDocuments }: GatewayWsOptions) {
  // Upgrades are routed here rather than by `ws` itself: given the HTTP server, `ws` re-emits the
  // server's errors (a port in use) as its own, which graphql-ws then prints as an internal error.
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayloadBytes });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://gateway').pathname !== yoga.graphqlEndpoint) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  /** Sockets that passed onConnect. */
  const callers = new WeakMap<WebSocket, Caller>();
  /** A key's sockets' slots in keyStreams, given back on close. */
  const releases = new WeakMap<WebSocket, () => void>();
  const stopKeepAlive = startKeepAlive(wss, limits.keepAliveMs);
  const initDeadline = startConnectionInitDeadline(wss, limits.connectionInitTimeoutMs);

  const disposable = useServer(
    {
      // The enveloped execute/subscribe ride on rootValue; graphql-ws hands the args straight back.
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      // Off here: startConnectionInitDeadline and startKeepAlive (useServer's last argument) do both.
      connectionInitWaitTimeout: 0,
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        initDeadline.met(socket);
        // The address counts wrong tokens (caller.ts); taken before the upgrade request is let go.
        const address = ctx.extra.request.socket.remoteAddress;
        dropUpgradeRequest(ctx.extra);
        const caller = await resolveCaller(authorizationParam(ctx.connectionParams), address);
        if (caller.rejected) {
          closeForbidden(socket, 'Forbidden: invalid API key');
          return false;
        }
        // Closed while the key was looked up: onClose has run already, so nothing may be counted now.
        if (socket.readyState !== WebSocket.OPEN) return false;
        const keyId = caller.apiKeyId;
        if (keyId !== null) {
          // Revoking the key closes the socket, here or (through Redis) on any other instance.
          const release = keyStreams.acquire(keyId, () => closeForbidden(socket, REVOKED_REASON));
          if (!release) {
            socket.close(TOO_MANY_CONNECTIONS, 'Too many connections for this API key');
            return false;
          }
          releases.set(socket, release);
        }
        callers.set(socket, caller);
        return true;
      },
      onNext: (_ctx, _id, _payload, _args, result) => withoutHttpExtensions(result),
      // One hook for every socket, rather than a close listener (and closure) per socket.
      onClose: (ctx) => {
        initDeadline.met(ctx.extra.socket);
        releases.get(ctx.extra.socket)?.();
        releases.delete(ctx.extra.socket);
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already reserved this operation's id in ctx.subscriptions, so it counts itself.
        if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptionsPerConnection) {
          return [createGraphQLError('Too many operations on this connection.', { extensions: { code: 'RATE_LIMITED' } })];
        }
        // The key is checked again for every operation, not only at connection_init: a key revoked
        // since must not keep working on a socket it opened before. A cache hit costs no I/O, and
        // revocation clears the cache (on every instance, with Redis).
        const connected = callers.get(ctx.extra.socket);
        const caller = connected?.apiKeyId ? await resolveCaller(authorizationParam(ctx.connectionParams)) : connected;
        if (caller?.rejected) {
          closeForbidden(ctx.extra.socket, REVOKED_REASON);
          return [createGraphQLError('The API key was revoked.', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        // Only what the plugins and the context read: the operation's context lives as long as a
        // subscription, so a copy of graphql-ws's context (and the upgrade request) would too.
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          socket: ctx.extra.socket,
          params: payload,
          caller,
        }) as Enveloped;
        let query = payload.query;
        if (trustedDocuments) {
          const trusted = trustedOperation(trustedDocuments, payload, caller?.isAdmin === true);
          if ('error' in trusted) return operationErrors([trusted.error]);
          query = trusted.query ?? query;
        }
        let document: DocumentNode;
        try {
          document = parse(query);
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
    0,
  );

  return {
    async close() {
      stopKeepAlive();
      initDeadline.stop();
      // dispose() closes every socket with 1001 (going away) and completes their operations.
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

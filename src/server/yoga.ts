// graphql-yoga with our schema, context, error masking and the caller gate. Used by HTTP, SSE and WS alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { RequestCache } from '@pothos/plugin-scope-auth';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config/env.js';
import type { Logger } from 'pino';
import type { GatewayContext, GatewayServices } from '../schema/context.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { Caller, CallerResolver } from './caller.js';
import type { KeyStreams } from './key-streams.js';
import type { OperationDrain } from './operation-drain.js';
import { useBadRequestParams } from './use-bad-request-params.js';
import { useGraphqlResponseStatus } from './use-graphql-response-status.js';
import { useKeyStreams } from './use-key-streams.js';
import { createMaskError } from './errors.js';
import { GRAPHIQL_OPTIONS, renderGatewayGraphiQL, useGraphiQLHeaders } from './graphiql.js';
import { useOperationLimits } from './use-operation-limits.js';
import { useOperationTelemetry } from './use-operation-telemetry.js';
import { useRateLimit } from './use-rate-limit.js';
import { useRequireCaller } from './use-require-caller.js';
import type { TrustedDocuments } from './trusted-documents.js';
import { useTrustedDocuments } from './use-trusted-documents.js';

/** Requests without a JSON content type (GET, SSE via GET, forms) must carry this header or Authorization. */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';

/** What the transport hands to yoga: node's request/response, or for WebSocket the resolved caller. */
export interface ServerContext {
  req?: IncomingMessage;
  res?: ServerResponse;
  /** Set by the WebSocket server, which authenticated the connection once in onConnect. */
  caller?: Caller;
  /**
   * One per HTTP request; in the request log line and the `x-request-id` header. A WebSocket
   * operation has no header to echo it in and gets its id when its log line is written.
   */
  requestId?: string;
}

/**
 * Pothos scope-auth caches scope results per context (five Maps, about 1 KB) in a WeakMap keyed by
 * the context, and a subscription's context lives as long as the subscription. Scopes are checked
 * when the subscription starts (authorizeOnSubscribe), so the cache goes once it has started; a
 * field that needed scopes later would build it again.
 */
function useReleaseScopeCacheOnSubscribe(): Plugin {
  const hooks = {
    onSubscribeResult({ args }: { args: { contextValue: object } }) {
      RequestCache.clearForContext(args.contextValue);
    },
  };
  return { onSubscribe: () => hooks };
}

/**
 * yoga's CORS: every origin reflected, with credentials, unless an allow-list is configured; then only
 * the listed origins get CORS headers (others get none, so browsers refuse to read the answer).
 */
function corsOptions(cors: Config['graphql']['cors'] | undefined) {
  if (cors === undefined || cors === 'any') return undefined;
  const allowed = new Set(cors.origins);
  return (request: Request) => {
    const origin = request.headers.get('origin');
    return origin !== null && allowed.has(origin) ? { origin, credentials: true } : false;
  };
}

export interface GatewayYogaOptions {
  schema: GraphQLSchema;
  services: GatewayServices;
  resolveCaller: CallerResolver;
  logger: Logger;
  graphiql: boolean;
  introspection: boolean;
  production: boolean;
  /** Which origins get CORS headers (config.graphql.cors); every origin when absent, as in development. */
  cors?: Config['graphql']['cors'] | undefined;
  limits: Config['limits'];
  rateLimiter: RateLimiterAbstract;
  /** Counts operations and open subscriptions; absent when METRICS is off. */
  metrics?: GatewayMetrics | undefined;
  /** One span per operation; absent when tracing is off. */
  tracer?: Tracer | undefined;
  /** Lets shutdown refuse new operations, wait for running ones and end SSE streams. */
  drain?: OperationDrain | undefined;
  /** Caps each key's SSE subscriptions (with its sockets and MCP waits) and ends them on revocation. */
  keyStreams?: KeyStreams | undefined;
  /** Operations sent by id; with `only`, the only ones that run (the admin token excepted). */
  trustedDocuments?: { documents: TrustedDocuments; only: boolean } | undefined;
}

export function createGatewayYoga(options: GatewayYogaOptions) {
  const { schema, services, resolveCaller, logger, graphiql } = options;
  return createYoga<ServerContext, Omit<GatewayContext, keyof ServerContext>>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: graphiql ? GRAPHIQL_OPTIONS : false,
    // The package's page, with GraphiQL's code inlined (yoga's own loads it from unpkg), rendered once.
    renderGraphiQL: renderGatewayGraphiQL,
    cors: corsOptions(options.cors),
    batching: false,
    // GraphQL over HTTP, Appendix A: a trusted document's id instead of its text.
    extraParamNames: ['documentId'],
    multipart: false,
    maskedErrors: { maskError: createMaskError(logger) },
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error(args.map(String).join(' ')),
    },
    context: async ({ request, caller, req }) => {
      const resolved = caller ?? (await resolveCaller(request.headers.get('authorization'), req?.socket.remoteAddress));
      return {
        apiKeyId: resolved.apiKeyId,
        isAdmin: resolved.isAdmin,
        credentialsRejected: resolved.rejected,
        credentialsThrottledSeconds: resolved.throttledSeconds,
        services,
        rateLimited: null,
      };
    },
    plugins: [
      // First, so its after-hooks also log operations that a later plugin refuses.
      useOperationTelemetry({ logger, metrics: options.metrics, tracer: options.tracer }),
      ...(graphiql ? [useGraphiQLHeaders()] : []),
      ...(options.drain ? [options.drain.plugin] : []),
      // Browsers cannot send these headers (or a JSON content type) cross-site without a CORS preflight.
      // Authorization counts: keys travel in it, so every client that can do anything sends it, and
      // urql's default GET queries need no extra header.
      useCSRFPrevention({ requestHeaders: [CSRF_HEADER, 'authorization'] }),
      useBadRequestParams(),
      ...(options.trustedDocuments
        ? [
            useTrustedDocuments({
              ...options.trustedDocuments,
              isAdmin: async (authorization) => (await resolveCaller(authorization)).isAdmin,
            }),
          ]
        : []),
      useOperationLimits(options.limits, options.production),
      ...(options.introspection ? [] : [useDisableIntrospection()]),
      useRequireCaller(),
      useRateLimit(options.rateLimiter),
      ...(options.keyStreams ? [useKeyStreams(options.keyStreams)] : []),
      useReleaseScopeCacheOnSubscribe(),
      useGraphqlResponseStatus(),
    ],
  });
}

export type GatewayYoga = ReturnType<typeof createGatewayYoga>;

// graphql-yoga with our schema, context, error masking and the caller gate. Used by HTTP, SSE and WS alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { GatewayContext, GatewayServices } from '../schema/context.js';
import type { Caller, CallerResolver } from './caller.js';
import { createMaskError } from './errors.js';
import { useRequireCaller } from './use-require-caller.js';

/** What the transport hands to yoga: node's request/response, or for WebSocket the resolved caller. */
export interface ServerContext {
  req?: IncomingMessage;
  res?: ServerResponse;
  /** Set by the WebSocket server, which authenticated the connection once in onConnect. */
  caller?: Caller;
}

export interface GatewayYogaOptions {
  schema: GraphQLSchema;
  services: GatewayServices;
  resolveCaller: CallerResolver;
  logger: Logger;
  graphiql: boolean;
}

export function createGatewayYoga({ schema, services, resolveCaller, logger, graphiql }: GatewayYogaOptions) {
  return createYoga<ServerContext, Omit<GatewayContext, keyof ServerContext>>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: graphiql
      ? {
          title: 'kling-gateway',
          subscriptionsProtocol: 'WS',
          defaultQuery: /* GraphQL */ `# Put your key in the Headers tab: {"Authorization": "Bearer kgw_..."}
query Models {
  models { model modes durationsSeconds audioModes cameraControl cfgScale }
}

query Me {
  me { name creditBalance creditsHeld creditsUsed }
}
`,
        }
      : false,
    batching: false,
    multipart: false,
    maskedErrors: { maskError: createMaskError(logger) },
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error(args.map(String).join(' ')),
    },
    context: async ({ request, caller }) => {
      const resolved = caller ?? (await resolveCaller(request.headers.get('authorization')));
      return {
        apiKeyId: resolved.apiKeyId,
        isAdmin: resolved.isAdmin,
        credentialsRejected: resolved.rejected,
        services,
      };
    },
    plugins: [useRequireCaller()],
  });
}

export type GatewayYoga = ReturnType<typeof createGatewayYoga>;

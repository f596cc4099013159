// graphql-ws on the HTTP server's /graphql path. Every operation goes through yoga.getEnveloped, so
// WebSocket gets the same parse/validate caches, context, plugins and error masking as HTTP.
import type { Server } from 'node:http';
import { GraphQLError, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Caller, CallerResolver } from './caller.js';
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

export interface GatewayWsOptions {
  server: Server;
  yoga: GatewayYoga;
  resolveCaller: CallerResolver;
}

export function attachGraphqlWs({ server, yoga, resolveCaller }: GatewayWsOptions) {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const callers = new WeakMap<object, Caller>();

  const disposable = useServer(
    {
      // The enveloped execute/subscribe ride on rootValue; graphql-ws hands the args straight back.
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onConnect: async (ctx) => {
        const caller = await resolveCaller(ctx.connectionParams?.['authorization']);
        if (caller.rejected) {
          ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden: invalid API key');
          return false;
        }
        callers.set(ctx.extra.socket, caller);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const caller = callers.get(ctx.extra.socket);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          caller,
        }) as Enveloped;
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // A syntax error rejects this one operation; the socket stays open.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
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
  );

  return {
    async close() {
      // dispose() closes every socket with 1001 (going away) and completes their operations.
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

// Per-key operation rate limit. An operation costs one point per root field selection, so aliases
// cannot multiply work for free (batching is off). The limiter's store is swappable (memory, Redis).
import { OperationTypeNode, type DocumentNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { GatewayContext } from '../schema/context.js';
import { operationShape } from './operation-shape.js';

export function rateLimitedError(retryAfterSeconds: number) {
  return createGraphQLError(`Too many requests; retry after ${retryAfterSeconds} s.`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterSeconds,
      http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    },
  });
}

export function useRateLimit(limiter: RateLimiterAbstract): Plugin<GatewayContext> {
  /** Null when within the limit, else the seconds until enough points are back. */
  const charge = async (ctx: GatewayContext, document: DocumentNode, operationName: string | null | undefined) => {
    // Anonymous callers reach only `models` and introspection, which are cheap; keys are what we meter.
    if (ctx.apiKeyId === null) return { retryAfter: null, mutation: false };
    const shape = operationShape(document, operationName);
    const points = Math.max(1, shape.rootFields.length);
    try {
      await limiter.consume(ctx.apiKeyId, points);
      return { retryAfter: null, mutation: shape.type === OperationTypeNode.MUTATION };
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return { retryAfter: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)), mutation: shape.type === OperationTypeNode.MUTATION };
    }
  };

  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const { retryAfter, mutation } = await charge(args.contextValue, args.document as DocumentNode, args.operationName as string | null | undefined);
      if (retryAfter === null) return;
      // Mutations answer in their result unions (RateLimitedError), as the contract asks.
      if (mutation) args.contextValue.rateLimited = { retryAfterSeconds: retryAfter };
      else setResultAndStopExecution({ errors: [rateLimitedError(retryAfter)] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const { retryAfter } = await charge(args.contextValue, args.document as DocumentNode, args.operationName as string | null | undefined);
      if (retryAfter !== null) setResultAndStopExecution({ errors: [rateLimitedError(retryAfter)] });
    },
  };
}

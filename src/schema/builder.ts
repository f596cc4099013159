// The schema builder: plugins, scalars and context types. Types live in their own files.
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { AuthenticationError, ForbiddenError, ValidationError, type FieldIssue } from '../errors.js';
import type { GatewayContext, KeyedContext } from './context.js';

export interface PothosTypes {
  Context: GatewayContext;
  AuthScopes: { apiKey: boolean; admin: boolean };
  AuthContexts: { apiKey: KeyedContext; admin: GatewayContext };
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
}

export const builder = new SchemaBuilder<PothosTypes>({
  plugins: [ScopeAuthPlugin, ErrorsPlugin, ValidationPlugin, RelayPlugin],
  // The contract marks almost every output field non-null; the few nullable ones say so.
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({ apiKey: ctx.apiKeyId !== null, admin: ctx.isAdmin }),
    unauthorizedError: (_parent, context) => {
      if (context.isAdmin) return new ForbiddenError('This operation needs an API key; the admin token is for key management only.');
      if (context.apiKeyId !== null) return new ForbiddenError('This operation needs the admin token.');
      return new AuthenticationError();
    },
  },
  errors: {
    // Each field lists the errors it returns as data. Anything else is a top-level error: a GatewayError
    // keeps its code (server/errors.ts), everything else (a database or socket error) is masked.
    defaultTypes: [],
    // Validation answers before scope-auth runs. Safe here: a rejected input writes, holds and calls nothing,
    // and the HTTP layer has already refused requests without a key.
    unsafelyHandleInputErrors: true,
  },
  validation: {
    validationError: (result) =>
      new ValidationError(
        result.issues.map(
          (issue): FieldIssue => ({
            // The plugin prefixes the argument name ("input"); the contract's paths start inside the input.
            path: (issue.path ?? [])
              .map((p) => String(typeof p === 'object' ? p.key : p))
              .filter((p, i) => !(i === 0 && p === 'input')),
            message: issue.message,
          }),
        ),
      ),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO 8601 string in UTC.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO 8601 string.');
    return date;
  },
});

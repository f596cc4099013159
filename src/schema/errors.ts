// The contract's Error interface and one object type per error class a client can act on.
import {
  ERROR_CODES,
  type GatewayError,
  IdempotencyConflictError,
  InsufficientCreditsError,
  NotFoundError,
  RateLimitedError,
  UpstreamError,
  ValidationError,
  type FieldIssue,
} from '../errors.js';
import { builder } from './builder.js';

export const ErrorCode = builder.enumType('ErrorCode', { values: ERROR_CODES });

export const ErrorInterface = builder.interfaceRef<GatewayError>('Error').implement({
  description: 'Every expected failure: a stable code to branch on and a message to show.',
  fields: (t) => ({
    code: t.expose('code', { type: ErrorCode }),
    message: t.exposeString('message'),
  }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One problem with the input: which field to change and why.',
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'The input field, e.g. ["cameraControl", "config"].' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => e.issues }) }),
});

builder.objectType(InsufficientCreditsError, {
  name: 'InsufficientCreditsError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InsufficientCreditsError,
  fields: (t) => ({
    required: t.exposeInt('required', { description: 'Credits this task costs.' }),
    available: t.exposeInt('available', { description: 'Credits the key can still hold.' }),
  }),
});

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof RateLimitedError,
  fields: (t) => ({ retryAfterSeconds: t.exposeInt('retryAfterSeconds') }),
});

builder.objectType(IdempotencyConflictError, {
  name: 'IdempotencyConflictError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof IdempotencyConflictError,
  fields: (t) => ({ idempotencyKey: t.exposeString('idempotencyKey') }),
});

builder.objectType(UpstreamError, {
  name: 'UpstreamError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof UpstreamError,
  fields: (t) => ({
    retryable: t.exposeBoolean('retryable', { description: 'Whether the same request may succeed later.' }),
    taskId: t.exposeID('taskId', {
      nullable: true,
      description: 'The task recorded for the refused submit (FAILED, refunded), if one was.',
    }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
});

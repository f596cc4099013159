// Every error a client can act on, each with a stable code that never changes once shipped.
// The schema maps each class to a GraphQL type once (schema/errors.ts); anything else is masked.

export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'INSUFFICIENT_CREDITS',
  'RATE_LIMITED',
  'IDEMPOTENCY_CONFLICT',
  'UPSTREAM_ERROR',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'FORBIDDEN',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base of every expected error. Not abstract only because Pothos registers it by its constructor. */
export class GatewayError extends Error {
  declare readonly code: ErrorCode;
}

export interface FieldIssue {
  /** The input field the user should change, relative to the input object, e.g. ["cameraControl", "config"]. */
  path: string[];
  message: string;
}

export class ValidationError extends GatewayError {
  override readonly name = 'ValidationError';
  override readonly code = 'VALIDATION_FAILED';
  constructor(readonly issues: FieldIssue[]) {
    super(issues.length === 1 ? (issues[0]?.message ?? 'Invalid input') : `Invalid input: ${issues.length} problems`);
  }
}

export class InsufficientCreditsError extends GatewayError {
  override readonly name = 'InsufficientCreditsError';
  override readonly code = 'INSUFFICIENT_CREDITS';
  constructor(
    readonly required: number,
    readonly available: number,
  ) {
    super(`This task costs ${required} credits; the key has ${available} available.`);
  }
}

export class RateLimitedError extends GatewayError {
  override readonly name = 'RateLimitedError';
  override readonly code = 'RATE_LIMITED';
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many requests; retry after ${retryAfterSeconds} s.`);
  }
}

export class IdempotencyConflictError extends GatewayError {
  override readonly name = 'IdempotencyConflictError';
  override readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(readonly idempotencyKey: string) {
    super('This idempotencyKey was already used with a different input.');
  }
}

export class UpstreamError extends GatewayError {
  override readonly name = 'UpstreamError';
  override readonly code = 'UPSTREAM_ERROR';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The task that was recorded (and refunded) for the refused submit, if any. */
    readonly taskId: string | null = null,
  ) {
    super(message);
  }
}

export class NotFoundError extends GatewayError {
  override readonly name = 'NotFoundError';
  override readonly code = 'NOT_FOUND';
}

export class AuthenticationError extends GatewayError {
  override readonly name = 'AuthenticationError';
  override readonly code = 'UNAUTHENTICATED';
  constructor(message = 'A valid API key is required: send "Authorization: Bearer <apiKey>".') {
    super(message);
  }
}

export class ForbiddenError extends GatewayError {
  override readonly name = 'ForbiddenError';
  override readonly code = 'FORBIDDEN';
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

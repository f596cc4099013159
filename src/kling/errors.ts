// Kling's business codes (kling-api.md section 7) as data: what each means and whether a retry can help.

export const KLING_ERROR_KINDS = [
  'auth',
  'account',
  'insufficient_balance',
  'permission',
  'invalid_params',
  'not_found',
  'content_policy',
  'rate_limited',
  'concurrency_limited',
  'server_error',
  'unavailable',
  'timeout',
  'network',
  'protocol',
] as const;
export type KlingErrorKind = (typeof KLING_ERROR_KINDS)[number];

export interface KlingCodeInfo {
  httpStatus: number;
  kind: KlingErrorKind;
  retryable: boolean;
  /** The message the simulator answers with; Kling's own strings are mostly unpublished. */
  message: string;
}

export const KLING_CODES: Readonly<Record<number, KlingCodeInfo>> = {
  1000: { httpStatus: 401, kind: 'auth', retryable: false, message: 'Authentication failed' },
  1001: { httpStatus: 401, kind: 'auth', retryable: false, message: 'Authorization is empty' },
  1002: { httpStatus: 401, kind: 'auth', retryable: false, message: 'Authorization is invalid' },
  // nbf/exp failures heal with a freshly signed token, so one retry after re-signing is worth it.
  1003: { httpStatus: 401, kind: 'auth', retryable: true, message: 'Authorization is not yet valid' },
  1004: { httpStatus: 401, kind: 'auth', retryable: true, message: 'Authorization has expired' },
  1100: { httpStatus: 429, kind: 'account', retryable: false, message: 'Account abnormal' },
  1101: { httpStatus: 429, kind: 'account', retryable: false, message: 'Account in arrears' },
  1102: { httpStatus: 429, kind: 'insufficient_balance', retryable: false, message: 'Account balance not enough' },
  1103: { httpStatus: 403, kind: 'permission', retryable: false, message: 'No permission for this resource' },
  1200: { httpStatus: 400, kind: 'invalid_params', retryable: false, message: 'Invalid request parameters' },
  1201: { httpStatus: 400, kind: 'invalid_params', retryable: false, message: 'Invalid parameter' },
  1202: { httpStatus: 404, kind: 'invalid_params', retryable: false, message: 'Invalid request method' },
  1203: { httpStatus: 404, kind: 'not_found', retryable: false, message: 'Requested resource does not exist' },
  1300: { httpStatus: 400, kind: 'content_policy', retryable: false, message: 'Platform policy triggered' },
  1301: { httpStatus: 400, kind: 'content_policy', retryable: false, message: 'Content security policy triggered' },
  1302: { httpStatus: 429, kind: 'rate_limited', retryable: true, message: 'Request rate too high' },
  1303: { httpStatus: 429, kind: 'concurrency_limited', retryable: true, message: 'parallel task over resource pack limit' },
  1304: { httpStatus: 429, kind: 'account', retryable: false, message: 'IP whitelist policy triggered' },
  5000: { httpStatus: 500, kind: 'server_error', retryable: true, message: 'Internal server error' },
  5001: { httpStatus: 503, kind: 'unavailable', retryable: true, message: 'Service temporarily unavailable' },
  5002: { httpStatus: 504, kind: 'timeout', retryable: true, message: 'Server internal timeout' },
};

export interface KlingApiErrorOptions {
  kind: KlingErrorKind;
  retryable: boolean;
  /** Kling's business code, when the answer carried one. */
  klingCode?: number | undefined;
  httpStatus?: number | undefined;
  requestId?: string | undefined;
  /**
   * True when the request may have taken effect although no success came back
   * (timeout, reset after sending, 5xx on a create): look before resending.
   */
  ambiguous?: boolean | undefined;
  cause?: unknown;
}

/** Any failed call to Kling, classified once so nothing above the client sees HTTP statuses. */
export class KlingApiError extends Error {
  override readonly name = 'KlingApiError';
  readonly kind: KlingErrorKind;
  readonly retryable: boolean;
  readonly klingCode: number | undefined;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  readonly ambiguous: boolean;

  constructor(message: string, options: KlingApiErrorOptions) {
    super(message, { cause: options.cause });
    this.kind = options.kind;
    this.retryable = options.retryable;
    this.klingCode = options.klingCode;
    this.httpStatus = options.httpStatus;
    this.requestId = options.requestId;
    this.ambiguous = options.ambiguous ?? false;
  }
}

export function isKlingApiError(error: unknown): error is KlingApiError {
  return error instanceof KlingApiError;
}

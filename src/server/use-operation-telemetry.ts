// One request log line and one count per GraphQL operation, over HTTP, SSE and WebSocket alike: every
// transport goes through yoga's envelop, so this plugin sees parse, validate, execute and subscribe.
// Listed first among the plugins, so its after-hooks also see operations that a later plugin stopped.
// With a tracer, one span per operation as well (none per resolver): the generateVideo span is the
// parent of its task's whole job (telemetry/job-spans.ts).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { isGatewayError } from '../errors.js';
import type { GatewayMetrics, SubscriptionTransport } from '../metrics/gateway-metrics.js';
import { parseTraceparent } from '../telemetry/job-spans.js';
import { isGraphQLError } from './errors.js';

/** The parts of yoga's context (server half and resolver half) that the log line reads. */
interface TelemetryContext {
  /** Set for HTTP; a WebSocket operation gets its id when its line is written (see finish). */
  requestId?: string | undefined;
  /** Set by the WebSocket server only. */
  socket?: unknown;
  caller?: { apiKeyId: string | null; isAdmin: boolean } | undefined;
  apiKeyId?: string | null;
  isAdmin?: boolean;
  rateLimited?: { retryAfterSeconds: number } | null;
  params?: { operationName?: string | null | undefined } | undefined;
  /** The HTTP request (yoga's); its `traceparent` header continues a caller's trace. */
  request?: Request | undefined;
  /** Set for resolvers while the operation is traced (GatewayContext.operationSpan). */
  operationSpan?: Span | undefined;
}

export type Transport = 'http' | SubscriptionTransport;

export interface OperationTelemetryOptions {
  logger: Logger;
  /** Absent when METRICS is off. */
  metrics?: GatewayMetrics | undefined;
  /** Absent when tracing is off: then no span work at all. */
  tracer?: Tracer | undefined;
}

interface OperationRecord {
  startedAt: number;
  name: string | null;
  type: string;
  /** Made on the first error: a live subscription without one should not hold an empty Set. */
  codes: Set<string> | undefined;
  finished: boolean;
  /**
   * Open until the operation ends. A subscription's covers its start only: kept for the stream's
   * life, every open socket's subscriptions would hold open spans.
   */
  span: Span | undefined;
}

const addCode = (record: OperationRecord, code: string) => (record.codes ??= new Set()).add(code);

type SubscribeHooks = Exclude<Awaited<ReturnType<NonNullable<Plugin<TelemetryContext>['onSubscribe']>>>, void>;

/** What an ObservedStream reports to the plugin. */
interface StreamObserver {
  payload(record: OperationRecord, result: ExecutionResult): void;
  ended(context: TelemetryContext, record: OperationRecord, failure?: { error: unknown }): void;
}

/**
 * A WebSocket subscription's stream, passed through unchanged while its payloads' error codes and its
 * end are noted. envelop's onNext/onEnd/onSubscribeError hooks would do the same with a wrapper per
 * hook kind and closures per subscription, which a gateway holding ten thousand sockets pays for
 * all their lives; this is one small object. It sits innermost, so it sees payloads and errors as
 * the executor made them, before masking, as the first plugin's hooks would. Over SSE the drain's
 * farewell is wrapped around the stream, outside of anything set here, so SSE keeps the hooks.
 */
class ObservedStream implements AsyncIterableIterator<ExecutionResult> {
  private iterator: AsyncIterator<ExecutionResult> | undefined;

  constructor(
    private readonly source: AsyncIterable<ExecutionResult>,
    private readonly observer: StreamObserver,
    private readonly context: TelemetryContext,
    private readonly record: OperationRecord,
  ) {}

  [Symbol.asyncIterator]() {
    return this;
  }

  private inner() {
    return (this.iterator ??= this.source[Symbol.asyncIterator]());
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    return this.inner()
      .next()
      .then(
        (result) => {
          if (result.done) this.observer.ended(this.context, this.record);
          else this.observer.payload(this.record, result.value);
          return result;
        },
        (error: unknown) => {
          this.observer.ended(this.context, this.record, { error });
          throw error;
        },
      );
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    try {
      return (await this.inner().return?.()) ?? { done: true, value: undefined };
    } finally {
      this.observer.ended(this.context, this.record);
    }
  }

  throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    const inner = this.inner();
    // Rejects with the caller's own error when there is nothing to pass it to, as envelop's wrappers do.
    if (!inner.throw) return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    return inner.throw(error);
  }
}

export function isWebSocketContext(context: object): boolean {
  return (context as TelemetryContext).socket !== undefined;
}

/** The code a client sees for this error: ours, graphql's or yoga's, else the masked one. */
function errorCode(error: unknown): string {
  for (let current: unknown = error; current !== undefined; current = isGraphQLError(current) ? current.originalError : undefined) {
    if (isGatewayError(current)) return current.code;
    const code = isGraphQLError(current) ? current.extensions['code'] : undefined;
    if (typeof code === 'string') return code;
  }
  // A GraphQL error of graphql's own making (e.g. a variable that does not coerce) passes unmasked.
  return isGraphQLError(error) && !error.originalError ? 'GRAPHQL_ERROR' : 'INTERNAL_SERVER_ERROR';
}

const codesOf = (result: ExecutionResult) => (result.errors ?? []).map(errorCode);

/**
 * The level of an operation's log line. Clients control how many of their own mistakes they make
 * (bad input, wrong token, over the rate limit): those stay at info with the rest of the request log,
 * so error-level alerts fire only for the gateway's own faults; Kling's at warn.
 */
export function logLevelOf(codes: readonly string[]): 'info' | 'warn' | 'error' {
  if (codes.includes('INTERNAL_SERVER_ERROR')) return 'error';
  if (codes.includes('UPSTREAM_ERROR')) return 'warn';
  return 'info';
}

export function useOperationTelemetry({ logger, metrics, tracer }: OperationTelemetryOptions): Plugin<TelemetryContext> {
  const records = new WeakMap<object, OperationRecord>();

  /** Named `graphql` until the document is parsed (describe renames it). */
  const startSpan = (activeTracer: Tracer, context: TelemetryContext) => {
    const parent = parseTraceparent(context.request?.headers.get('traceparent'));
    return activeTracer.startSpan(
      'graphql',
      { kind: SpanKind.SERVER, attributes: context.requestId ? { 'kling_gateway.request_id': context.requestId } : {} },
      parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
    );
  };

  const start = (context: TelemetryContext): OperationRecord => {
    const record: OperationRecord = {
      startedAt: performance.now(),
      name: context.params?.operationName ?? null,
      type: 'unknown',
      codes: undefined,
      finished: false,
      span: tracer ? startSpan(tracer, context) : undefined,
    };
    records.set(context, record);
    return record;
  };

  /** Ends the operation's span with its error codes; failed only for our faults and Kling's, as logLevelOf says. */
  const endSpan = (context: TelemetryContext, record: OperationRecord) => {
    const span = record.span;
    if (!span) return;
    record.span = undefined;
    const codes = [...(record.codes ?? [])];
    const keyId = context.apiKeyId ?? context.caller?.apiKeyId ?? null;
    if (keyId !== null) span.setAttribute('kling_gateway.key_id', keyId);
    if (codes.length > 0) {
      span.setAttribute('kling_gateway.error_codes', codes);
      if (logLevelOf(codes) !== 'info') span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(', ') });
    }
    span.end();
  };
  /** Operations always parse first; the fallback covers an executor called with a document of its own. */
  const recordOf = (context: TelemetryContext) => records.get(context) ?? start(context);

  const describe = (record: OperationRecord, document: DocumentNode, operationName: string | null | undefined) => {
    const operation = getOperationAST(document, operationName);
    record.name = operation?.name?.value ?? operationName ?? null;
    record.type = operation?.operation ?? 'unknown';
    if (record.span) {
      // The operation semantic conventions' name: type, then the name when there is one.
      record.span.updateName(record.name ? `${record.type} ${record.name}` : record.type);
      record.span.setAttribute('graphql.operation.type', record.type);
      if (record.name) record.span.setAttribute('graphql.operation.name', record.name);
    }
  };

  const finish = (context: TelemetryContext, record: OperationRecord, stream = false) => {
    if (record.finished) return;
    record.finished = true;
    endSpan(context, record);
    const durationMs = Math.round((performance.now() - record.startedAt) * 10) / 10;
    const codes = [...(record.codes ?? [])];
    const outcome = codes[0] ?? 'ok';
    const transport: Transport = isWebSocketContext(context) ? 'ws' : record.type === 'subscription' ? 'sse' : 'http';
    const keyId = context.apiKeyId ?? context.caller?.apiKeyId ?? null;
    const admin = context.isAdmin ?? context.caller?.isAdmin ?? false;
    logger[logLevelOf(codes)](
      {
        // Made here for WebSocket operations: a UUID is built as a rope of ~30 string pieces, about
        // 1 KB that a subscription would otherwise hold for its whole life just to print it at the end.
        requestId: context.requestId ?? randomUUID(),
        transport,
        keyId,
        ...(admin ? { admin: true } : {}),
        operationName: record.name,
        operationType: record.type,
        durationMs,
        outcome: codes.length === 0 ? 'ok' : 'error',
        ...(codes.length === 0 ? {} : { errorCodes: codes }),
      },
      'graphql operation',
    );
    // Over HTTP the caller is known once the context is built, after validation: an operation that
    // fails to parse or validate there counts as an anonymous caller's.
    metrics?.operationFinished({
      name: record.name,
      authenticated: keyId !== null || admin,
      type: record.type,
      outcome,
      durationMs: stream ? undefined : durationMs,
    });
  };

  const observer: StreamObserver = {
    payload(record, result) {
      for (const code of codesOf(result)) addCode(record, code);
    },
    ended(context, record, failure) {
      if (failure) addCode(record, errorCode(failure.error));
      if (record.finished) return;
      metrics?.subscriptionClosed('ws');
      finish(context, record, true);
    },
  };
  // The same object for every WebSocket subscription: it finds the operation's record through the context.
  const webSocketHooks: SubscribeHooks = {
    onSubscribeResult({ args, result, setResult }) {
      const context = args.contextValue;
      const record = recordOf(context);
      if (!isAsyncIterable(result)) {
        for (const code of codesOf(result)) addCode(record, code);
        finish(context, record);
        return undefined;
      }
      endSpan(context, record);
      metrics?.subscriptionOpened('ws');
      setResult(new ObservedStream(result, observer, context, record));
      return undefined;
    },
  };

  return {
    // A request yoga refuses before it becomes an operation (CSRF check, a body that is not GraphQL
    // parameters) still gets its line; over HTTP the server context is the operation's context.
    // 404 is a path that is not the GraphQL endpoint at all.
    onResponse({ serverContext, response }) {
      const context = serverContext as TelemetryContext;
      if (response.status < 400 || response.status === 404 || records.has(context)) return;
      const record = start(context);
      addCode(record, `HTTP_${response.status}`);
      finish(context, record);
    },
    onParse({ context }) {
      const record = start(context);
      return ({ result }) => {
        if (result instanceof Error) {
          const code = isGraphQLError(result) ? result.extensions['code'] : undefined;
          addCode(record, typeof code === 'string' ? code : 'GRAPHQL_PARSE_FAILED');
          finish(context, record);
        } else if (result) {
          describe(record, result as DocumentNode, context.params.operationName);
        }
      };
    },
    onValidate({ context }) {
      return ({ valid, result }) => {
        if (valid) return;
        const record = recordOf(context);
        for (const error of result as readonly GraphQLError[]) {
          const code = error.extensions['code'];
          addCode(record, typeof code === 'string' ? code : 'GRAPHQL_VALIDATION_FAILED');
        }
        finish(context, record);
      };
    },
    onExecute({ args }) {
      const context = args.contextValue;
      const record = recordOf(context);
      describe(record, args.document as DocumentNode, args.operationName as string | null | undefined);
      // For generateVideo: the new task stores this span's context as its job's parent.
      if (record.span) context.operationSpan = record.span;
      return {
        onExecuteDone({ result }) {
          if (!isAsyncIterable(result)) for (const code of codesOf(result)) addCode(record, code);
          // A mutation over its rate limit answers RateLimitedError as data; the log still says so.
          if (context.rateLimited) addCode(record, 'RATE_LIMITED');
          finish(context, record);
        },
      };
    },
    onSubscribe({ args }) {
      const context = args.contextValue;
      const record = recordOf(context);
      describe(record, args.document as DocumentNode, args.operationName as string | null | undefined);
      if (isWebSocketContext(context)) return webSocketHooks;
      let open: SubscriptionTransport | undefined;
      // envelop's onEnd misses a stream that throws (nobody returns it then), so an error ends it too.
      const end = () => {
        if (open) metrics?.subscriptionClosed(open);
        open = undefined;
        finish(context, record, true);
      };
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) {
            for (const code of codesOf(result)) addCode(record, code);
            finish(context, record);
            return undefined;
          }
          open = 'sse';
          endSpan(context, record);
          metrics?.subscriptionOpened(open);
          return {
            onNext({ result: payload }) {
              for (const code of codesOf(payload)) addCode(record, code);
            },
            onEnd: end,
          };
        },
        onSubscribeError({ error }) {
          addCode(record, errorCode(error));
          end();
        },
      };
    },
  };
}

// Spans of a task's job after its request: the submit to Kling, each poll, the terminal transition and
// each webhook attempt. The job outlives the request and may move to another instance, so its parent
// is not an in-process context but the W3C traceparent stored on the task row: every later span
// joins the trace of the operation that created the task, and that trace's sampling decision.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  isSpanContextValid,
  trace,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';

/** Our task id (`vt_…`), on every span of a job and on the operation span that created it. */
export const ATTR_TASK_ID = 'kling_gateway.task_id';
/** Kling's task id, once Kling has given one. */
export const ATTR_KLING_TASK_ID = 'kling_gateway.kling_task_id';

// version-traceid-parentid-flags. A later version may append fields; version ff is invalid.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** `00-<trace id>-<span id>-<flags>`, or undefined for an invalid context (a no-op tracer's spans). */
export function formatTraceparent(context: SpanContext): string | undefined {
  if (!isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & TraceFlags.SAMPLED) !== 0 ? '01' : '00'}`;
}

/** The remote span context a traceparent names; undefined when it is absent or malformed. */
export function parseTraceparent(value: string | null | undefined): SpanContext | undefined {
  const match = value ? TRACEPARENT.exec(value.trim()) : null;
  if (!match) return undefined;
  const [, version, traceId = '', spanId = '', flags = '', rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const context: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

/** What a job span needs of a task (or of one of its webhook deliveries). */
export interface JobRef {
  /** Our task id. */
  id: string;
  klingTaskId?: string | null | undefined;
  /** The trace this job belongs to; null for tasks made untraced (tracing off, MCP, before the column). */
  traceparent: string | null;
}

/**
 * Runs `work` inside a span of the task's job; the span is undefined when tracing is off, so callers
 * write `span?.setAttribute(…)` and pay nothing then. A thrown error marks the span and goes on.
 */
export type JobSpans = <T>(name: string, job: JobRef, work: (span: Span | undefined) => Promise<T>, kind?: SpanKind) => Promise<T>;

export const untracedJobSpans: JobSpans = (_name, _job, work) => work(undefined);

export function createJobSpans(tracer: Tracer | undefined): JobSpans {
  if (!tracer) return untracedJobSpans;
  return async (name, job, work, kind = SpanKind.INTERNAL) => {
    const parent = parseTraceparent(job.traceparent);
    // Without a stored parent (a task from before tracing) the span starts a trace of its own.
    const span = tracer.startSpan(
      name,
      { kind, attributes: { [ATTR_TASK_ID]: job.id, ...(job.klingTaskId ? { [ATTR_KLING_TASK_ID]: job.klingTaskId } : {}) } },
      parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
    );
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
}

/** Marks a span failed with the error's message (and the exception event). */
export function failSpan(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

import { TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from '../../src/telemetry/job-spans.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('traceparent', () => {
  it('round-trips a sampled and an unsampled context', () => {
    for (const traceFlags of [TraceFlags.SAMPLED, TraceFlags.NONE]) {
      const text = formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags });
      expect(text).toBe(`00-${TRACE_ID}-${SPAN_ID}-0${traceFlags}`);
      expect(parseTraceparent(text)).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags, isRemote: true });
    }
  });

  it('formats nothing for the invalid context of a no-op span', () => {
    expect(formatTraceparent({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 })).toBeUndefined();
  });

  it('accepts a later version with more fields, and keeps only the sampled flag', () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-03-extra`)).toMatchObject({ traceFlags: TraceFlags.SAMPLED });
  });

  it.each([
    ['absent', null],
    ['empty', ''],
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['version 00 with more fields', `00-${TRACE_ID}-${SPAN_ID}-01-extra`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['all-zero span id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['upper case', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['short trace id', `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`],
  ])('refuses %s', (_name, text) => {
    expect(parseTraceparent(text)).toBeUndefined();
  });
});

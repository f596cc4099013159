// OpenTelemetry traces across a whole job: the generateVideo operation, the submit to Kling, each
// poll, the terminal transition and the webhook delivery, in one trace linked by the task id.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { ATTR_KLING_TASK_ID, ATTR_TASK_ID } from '../../src/telemetry/job-spans.js';
import { GENERATE_VIDEO, TASK_UPDATED, VIDEO_TASK, type GenerateVideoData } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** Only a URL to build the provider on: the in-memory processor replaces the OTLP exporter. */
const OTLP_ENDPOINT = 'http://127.0.0.1:4318';

async function tracedGateway(receiver: WebhookReceiver, env: Record<string, string>) {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const onStart = vi.spyOn(processor, 'onStart');
  const t = await startGateway({
    env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50', WEBHOOK_ALLOWED_HOSTS: receiver.host, ...env },
    simulator: { taskSeconds: 0.2 },
    overrides: { spanProcessor: processor },
  });
  return { t, exporter, onStart };
}

/** Runs one generateVideo with a webhook to the end; resolves with the task id once the webhook arrived. */
async function runJob(t: TestGateway, receiver: WebhookReceiver, path: string): Promise<string> {
  const key = await t.createKey(100);
  const res = await t.graphql<GenerateVideoData>(
    GENERATE_VIDEO,
    { input: { model: 'KLING_V1', prompt: 'A lighthouse at night', webhookUrl: receiver.url(path) } },
    key,
  );
  const result = res.body.data?.generateVideo;
  if (result?.__typename !== 'GenerateVideoSuccess' || !result.task) throw new Error(`generateVideo: ${JSON.stringify(res.body)}`);
  const taskId = result.task.id;
  await receiver.waitFor(path);
  await vi.waitFor(async () => expect((await t.gateway.store.getTask(taskId))?.status).toBe('SUCCEEDED'));
  return taskId;
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((span) => span.name === name);
const attribute = (span: ReadableSpan | undefined, name: string) => span?.attributes[name];

describe('tracing', () => {
  it('traces a job as one tree: operation → submit, polls, terminal transition, webhook delivery', async () => {
    const receiver = await startWebhookReceiver();
    const { t, exporter } = await tracedGateway(receiver, { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT });
    expect(t.gateway.tracing.tracer).toBeDefined();

    const taskId = await runJob(t, receiver, '/traced');
    await vi.waitFor(() => expect(named(exporter.getFinishedSpans(), 'webhook.deliver')).toHaveLength(1));

    const [operation, ...others] = named(exporter.getFinishedSpans(), 'mutation GenerateVideo');
    if (!operation) throw new Error('no operation span');
    expect(others).toHaveLength(0);
    expect(operation.kind).toBe(SpanKind.SERVER);
    expect(operation.parentSpanContext).toBeUndefined();
    expect(operation.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'GenerateVideo',
      [ATTR_TASK_ID]: taskId,
    });
    expect(operation.resource.attributes['service.name']).toBe('kling-gateway');
    const { traceId, spanId } = operation.spanContext();

    // The row keeps the operation's context: the job outlives the request.
    expect((await t.gateway.store.getTask(taskId))?.traceparent).toBe(`00-${traceId}-${spanId}-01`);

    const trace = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    const job = trace.filter((span) => span !== operation);
    // Nothing else in the trace: no span per resolver, and every job span hangs off the operation.
    expect(new Set(job.map((span) => span.name))).toEqual(new Set(['kling.submit', 'kling.poll', 'task.transition', 'webhook.deliver']));
    for (const span of job) {
      expect(span.parentSpanContext?.spanId).toBe(spanId);
      expect(span.attributes[ATTR_TASK_ID]).toBe(taskId);
    }

    const [submit] = named(job, 'kling.submit');
    const klingTaskId = (await t.gateway.store.getTask(taskId))?.klingTaskId;
    expect(klingTaskId).toEqual(expect.any(String));
    expect(named(job, 'kling.submit')).toHaveLength(1);
    expect(submit?.kind).toBe(SpanKind.CLIENT);
    expect(attribute(submit, ATTR_KLING_TASK_ID)).toBe(klingTaskId);
    expect(attribute(submit, 'kling_gateway.task.status')).toBe('SUBMITTED');

    const polls = named(job, 'kling.poll');
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const poll of polls) expect(attribute(poll, ATTR_KLING_TASK_ID)).toBe(klingTaskId);
    expect(polls.map((poll) => attribute(poll, 'kling_gateway.poll.outcome'))).toContain('changed');

    const transitions = named(job, 'task.transition');
    expect(transitions).toHaveLength(1);
    expect(transitions[0]?.attributes).toMatchObject({ 'kling_gateway.task.event': 'succeeded', 'kling_gateway.task.status': 'SUCCEEDED' });

    const [delivery] = named(job, 'webhook.deliver');
    expect(delivery?.attributes).toMatchObject({
      'http.response.status_code': 200,
      'kling_gateway.webhook.outcome': 'delivered',
      'kling_gateway.webhook.attempt': 1,
    });
    expect(delivery?.status.code).not.toBe(SpanStatusCode.ERROR);

    // In time order: the operation (and within it the submit) first, the delivery last.
    const ended = (span: ReadableSpan | undefined) => (span ? span.endTime[0] * 1e9 + span.endTime[1] : Number.NaN);
    expect(ended(submit)).toBeLessThanOrEqual(ended(operation));
    expect(ended(transitions[0])).toBeLessThanOrEqual(ended(delivery));
  });

  it('gives each operation one span named by its type and name; for a subscription, only its start', async () => {
    const receiver = await startWebhookReceiver();
    const { t, exporter } = await tracedGateway(receiver, { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT });
    const key = await t.createKey(100);
    const res = await t.graphql(VIDEO_TASK, { id: 'vt_missing' }, key);
    expect(res.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(['query VideoTask']);
    expect(spans[0]?.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'kling_gateway.key_id': expect.stringMatching(/^key_/) as string });

    // A subscription's span covers its start: it has ended while the stream is still open.
    const generated = await t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { model: 'KLING_V1', prompt: 'A quiet harbour' } }, key);
    const task = generated.body.data?.generateVideo;
    if (task?.__typename !== 'GenerateVideoSuccess' || !task.task) throw new Error('generateVideo failed');
    const stream = subscribeSse(t.url, TASK_UPDATED, { id: task.task.id }, { key });
    await stream.until(() => true);
    expect(named(exporter.getFinishedSpans(), 'subscription TaskUpdated')).toHaveLength(1);
    stream.abort();
  });

  it('exports nothing when the sampling ratio is 0, and the job follows the operation’s decision', async () => {
    const receiver = await startWebhookReceiver();
    const { t, exporter } = await tracedGateway(receiver, { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT, OTEL_TRACES_SAMPLER_ARG: '0' });

    const taskId = await runJob(t, receiver, '/unsampled');
    // Not sampled, but the decision is kept with the task (flags 00), so its later spans are not either.
    expect((await t.gateway.store.getTask(taskId))?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    await t.gateway.stop();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('builds no tracer provider without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const receiver = await startWebhookReceiver();
    const { t, exporter, onStart } = await tracedGateway(receiver, {});
    expect(t.gateway.tracing.tracer).toBeUndefined();

    const taskId = await runJob(t, receiver, '/untraced');
    expect((await t.gateway.store.getTask(taskId))?.traceparent).toBeNull();
    await t.gateway.stop();
    expect(onStart).not.toHaveBeenCalled();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

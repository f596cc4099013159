// The gateway's tracer: a provider of its own (never registered globally, so several gateways in one
// process keep their spans apart), built only when an OTLP endpoint is configured. Without one there
// is no provider and no tracer, and every traced place skips its span work on an `undefined` check.
import { diag, DiagLogLevel, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import { createJobSpans, type JobSpans } from './job-spans.js';

export const SERVICE_NAME = 'kling-gateway';

export interface TracingOptions {
  config: Config['tracing'];
  instanceId: string;
  logger: Logger;
  /** Replaces the OTLP exporter and its batching; tests pass an in-memory exporter's processor. */
  spanProcessor?: SpanProcessor | undefined;
}

export interface GatewayTracing {
  /** Undefined when tracing is off. */
  tracer: Tracer | undefined;
  /** Runs a task's job work in a span of the task's trace (job-spans.ts). */
  jobSpans: JobSpans;
  /** Exports what is still batched and stops; idempotent. Never throws. */
  shutdown(): Promise<void>;
}

function samplerFor({ sampler, ratio }: Config['tracing']): Sampler {
  const root = sampler.endsWith('always_on')
    ? new AlwaysOnSampler()
    : sampler.endsWith('always_off')
      ? new AlwaysOffSampler()
      : new TraceIdRatioBasedSampler(ratio);
  // ParentBased: a job's later spans follow the decision made for the operation that created the task.
  return sampler.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

export function createTracing(options: TracingOptions): GatewayTracing {
  const { config, logger } = options;
  if (config.url === undefined) return { tracer: undefined, jobSpans: createJobSpans(undefined), shutdown: () => Promise.resolve() };

  if (!options.spanProcessor) {
    // The SDK reports failed exports through its global diag logger, which is silent unless set.
    const otel = logger.child({ component: 'otel' });
    diag.setLogger(
      {
        error: (message, ...args) => otel.warn({ args }, message),
        warn: (message, ...args) => otel.warn({ args }, message),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }
  // The exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression) itself,
  // the batch processor OTEL_BSP_*, and the env detector OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
  const processor = options.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter({ url: config.url }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: SERVICE_NAME, [ATTR_SERVICE_INSTANCE_ID]: options.instanceId }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    sampler: samplerFor(config),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer(SERVICE_NAME);
  let stopped: Promise<void> | undefined;
  return {
    tracer,
    jobSpans: createJobSpans(tracer),
    shutdown() {
      stopped ??= provider.shutdown().catch((error: unknown) => {
        logger.warn({ err: error }, 'could not export the last spans');
      });
      return stopped;
    },
  };
}

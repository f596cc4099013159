// Counts and times every call through the KlingClient interface, so the client itself stays free of
// metrics and a test's own client (overrides.kling) is measured the same way.
import { performance } from 'node:perf_hooks';
import { isKlingApiError } from '../kling/errors.js';
import type { KlingCallOptions, KlingClient } from '../kling/types.js';
import type { GatewayMetrics } from './gateway-metrics.js';

type Recorder = Pick<GatewayMetrics, 'upstreamCallFinished'>;

/** `ok`, `not_found` for a lookup Kling answered with nothing, `aborted`, or the error's kind. */
function outcomeOf(error: unknown, options: KlingCallOptions | undefined): string {
  if (options?.signal?.aborted) return 'aborted';
  return isKlingApiError(error) ? error.kind : 'error';
}

export function instrumentKlingClient(client: KlingClient, metrics: Recorder): KlingClient {
  const measure = async <T>(operation: string, options: KlingCallOptions | undefined, call: () => Promise<T>): Promise<T> => {
    const startedAt = performance.now();
    try {
      const result = await call();
      metrics.upstreamCallFinished(operation, result === null ? 'not_found' : 'ok', performance.now() - startedAt);
      return result;
    } catch (error) {
      metrics.upstreamCallFinished(operation, outcomeOf(error, options), performance.now() - startedAt);
      throw error;
    }
  };

  return {
    createTask: (request, options) => measure('createTask', options, () => client.createTask(request, options)),
    getTask: (endpoint, taskId, options) => measure('getTask', options, () => client.getTask(endpoint, taskId, options)),
    findTaskByExternalId: (endpoint, externalTaskId, options) =>
      measure('findTaskByExternalId', options, () => client.findTaskByExternalId(endpoint, externalTaskId, options)),
    listTasks: (endpoint, list, options) => measure('listTasks', options, () => client.listTasks(endpoint, list, options)),
    close: () => client.close(),
  };
}

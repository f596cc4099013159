// The request log: one line per GraphQL operation, over HTTP and WebSocket, with the request id the
// client sees in `x-request-id`, the key's id and never the key itself.
import { describe, expect, it } from 'vitest';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { ME } from '../helpers/operations.js';
import { postGraphql } from '../helpers/graphql-http.js';
import { startGateway } from '../helpers/start-gateway.js';
import { createWsClient } from '../helpers/ws-client.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function operationLines(capture: LogCapture) {
  return capture.entries.filter((entry) => entry['msg'] === 'graphql operation');
}

async function gatewayWithLogs() {
  const capture = createLogCapture('info');
  const t = await startGateway({ overrides: { logger: capture.logger } });
  const key = await t.createKey(100);
  const keyId = await t.gateway.apiKeys.authenticate(key);
  return { t, key, keyId, capture };
}

describe('the request log', () => {
  it('writes one line per operation with the request id, key id, name, type, duration and outcome, and never the key', async () => {
    const { t, key, keyId, capture } = await gatewayWithLogs();
    const res = await postGraphql(t.url, ME, {}, { key, headers: { 'x-request-id': 'trace-7f3a.01' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-7f3a.01');

    expect(operationLines(capture)).toEqual([
      expect.objectContaining({
        requestId: 'trace-7f3a.01',
        transport: 'http',
        keyId,
        operationName: 'Me',
        operationType: 'query',
        durationMs: expect.any(Number) as number,
        outcome: 'ok',
      }),
    ]);
    expect(capture.text).not.toContain(key);
  });

  it('replaces a request id that is not plain and short with its own, and echoes that', async () => {
    const { t, key, capture } = await gatewayWithLogs();
    for (const sent of ['has spaces in it', 'x'.repeat(129), '{"json":true}']) {
      const res = await postGraphql(t.url, ME, {}, { key, headers: { 'x-request-id': sent } });
      const echoed = res.headers.get('x-request-id') ?? '';
      expect(echoed).toMatch(UUID);
      expect(operationLines(capture).at(-1)?.['requestId']).toBe(echoed);
    }
  });

  it('gives every request its own id when none is sent', async () => {
    const { t, key } = await gatewayWithLogs();
    const [a, b] = await Promise.all([postGraphql(t.url, ME, {}, { key }), postGraphql(t.url, ME, {}, { key })]);
    expect(a.headers.get('x-request-id')).toMatch(UUID);
    expect(b.headers.get('x-request-id')).toMatch(UUID);
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });

  it('logs refused operations with their error codes', async () => {
    const { t, capture } = await gatewayWithLogs();
    await t.graphql(ME);
    await t.graphql('query Broken { noSuchField }');
    await t.graphql('query Cut {');
    // A GET without the CSRF header is refused before it is parsed.
    const refused = await fetch(new URL('?query=%7Bmodels%7Bmodel%7D%7D', t.url));
    expect(refused.status).toBe(403);
    expect(operationLines(capture).map((line) => [line['operationName'], line['outcome'], line['errorCodes']])).toEqual([
      ['Me', 'error', ['UNAUTHENTICATED']],
      ['Broken', 'error', ['GRAPHQL_VALIDATION_FAILED']],
      [null, 'error', ['GRAPHQL_PARSE_FAILED']],
      [null, 'error', ['HTTP_403']],
    ]);
    expect(operationLines(capture).at(-1)?.['requestId']).toBe(refused.headers.get('x-request-id'));
  });

  it('logs operations sent over a WebSocket with an id per operation', async () => {
    const { t, key, keyId, capture } = await gatewayWithLogs();
    const ws = createWsClient(t.url, { key });
    await ws.subscribe(ME).done;
    await ws.subscribe(ME).done;
    const lines = operationLines(capture);
    expect(lines).toEqual([
      expect.objectContaining({ transport: 'ws', keyId, operationName: 'Me', operationType: 'query', outcome: 'ok' }),
      expect.objectContaining({ transport: 'ws', keyId, operationName: 'Me', operationType: 'query', outcome: 'ok' }),
    ]);
    expect(lines[0]?.['requestId']).toMatch(UUID);
    expect(lines[0]?.['requestId']).not.toBe(lines[1]?.['requestId']);
    expect(capture.text).not.toContain(key);
  });
});

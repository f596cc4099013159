// Red-team finding (Step 10): the per-key webhook signing secret was never shown, so no receiver could
// verify a delivery. It is shown once at creation (CLI and createApiKey), its owner can rotate it
// (rotateWebhookSecret), deliveries are signed with the current one, and it never reaches a log line,
// not even when creating the key fails in the database. Receivers verify with `standardwebhooks`.
import { inspect } from 'node:util';
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKeys } from '../../src/auth/api-keys.js';
import { runKeysCommand } from '../../src/cli/keys-command.js';
import { systemClock } from '../../src/clock.js';
import { createLogCapture } from '../helpers/log-capture.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { CHEAP, FAST_POLLING, generateTask } from '../helpers/task-flows.js';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const ADMIN_TOKEN = 'a-long-admin-token-for-webhook-secret-tests';
const REFUSED_NAME = 'refused-by-trigger';

const CREATE_API_KEY = /* GraphQL */ `
  mutation CreateApiKey($name: String!, $credits: Int!) {
    createApiKey(name: $name, credits: $credits) { key webhookSecret account { id } }
  }
`;
const ROTATE = /* GraphQL */ `
  mutation { rotateWebhookSecret { webhookSecret } }
`;

const logs = createLogCapture();
let t: TestGateway;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  t = await startGateway({
    env: { ...FAST_POLLING, ADMIN_TOKEN, WEBHOOK_ALLOWED_HOSTS: receiver.host },
    simulator: { taskSeconds: 0.2 },
    overrides: { logger: logs.logger },
  });
});

/** What a receiver does with the documented library: throws unless the signature matches `secret`. */
const verifyWithLibrary = (request: ReceivedRequest, secret: string) =>
  new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  });

/** One task with a webhook to `path`; resolves with the delivery the receiver got. */
async function deliveryTo(key: string, path: string): Promise<ReceivedRequest> {
  await generateTask(t, key, { prompt: 'A lighthouse at dusk', ...CHEAP, webhookUrl: receiver.url(path) });
  const [request] = await receiver.waitFor(path);
  if (!request) throw new Error('no delivery');
  return request;
}

/** Makes the database itself refuse inserting a key named REFUSED_NAME, so the insert fails with its parameters in the error. */
async function refuseKeysNamed(store: TestGateway['gateway']['store']) {
  await store.dialect.run(async (db) => {
    if (store.dialect.kind === 'sqlite') {
      db.run(
        sql.raw(
          `CREATE TRIGGER IF NOT EXISTS refuse_named BEFORE INSERT ON api_keys WHEN NEW.name = '${REFUSED_NAME}' BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`,
        ),
      );
    } else {
      const pg = db as unknown as { execute(query: ReturnType<typeof sql.raw>): Promise<unknown> };
      await pg.execute(
        sql.raw(
          `CREATE OR REPLACE FUNCTION refuse_named() RETURNS trigger AS $$ BEGIN IF NEW.name = '${REFUSED_NAME}' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
        ),
      );
      await pg.execute(sql.raw(`CREATE OR REPLACE TRIGGER refuse_named BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION refuse_named()`));
    }
  });
}

describe('the per-key webhook signing secret', () => {
  it('is returned once by createApiKey, verifies a real delivery with standardwebhooks, and after rotateWebhookSecret only the new one does', async () => {
    const res = await t.graphql<{ createApiKey: { key: string; webhookSecret: string; account: { id: string } } }>(
      CREATE_API_KEY,
      { name: 'signed', credits: 1_000 },
      ADMIN_TOKEN,
    );
    expect(res.body.errors).toBeUndefined();
    const created = res.body.data?.createApiKey;
    if (!created) throw new Error(JSON.stringify(res.body));
    expect(created.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);

    const first = await deliveryTo(created.key, '/before-rotation');
    expect(verifyWithLibrary(first, created.webhookSecret)).toMatchObject({ type: 'video_task.succeeded' });

    const rotated = await t.graphql<{ rotateWebhookSecret: { webhookSecret: string } }>(ROTATE, undefined, created.key);
    expect(rotated.body.errors).toBeUndefined();
    const newSecret = rotated.body.data?.rotateWebhookSecret.webhookSecret ?? '';
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(created.webhookSecret);

    const second = await deliveryTo(created.key, '/after-rotation');
    expect(verifyWithLibrary(second, newSecret)).toMatchObject({ type: 'video_task.succeeded' });
    expect(() => verifyWithLibrary(second, created.webhookSecret)).toThrow(/signature/i);

    // Only the calling key's secret changes; the admin token is no key and cannot rotate one.
    const asAdmin = await t.graphql(ROTATE, undefined, ADMIN_TOKEN);
    expect(asAdmin.body.errors?.[0]?.extensions?.['code']).toMatch(/UNAUTHENTICATED|FORBIDDEN/);

    for (const secret of [created.webhookSecret, newSecret]) expect(logs.text.includes(secret)).toBe(false);
  });

  it('is printed once by the keys CLI, and verifies that key’s deliveries', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runKeysCommand(['create', '--name', 'cli-signed', '--credits', '100'], {
      apiKeys: () => t.gateway.apiKeys,
      out: (text) => out.push(text),
      err: (text) => err.push(text),
    });
    expect({ code, err }).toEqual({ code: 0, err: [] });
    const key = /^API key \(shown once\): (kgw_\S+)$/m.exec(out.join('\n'))?.[1] ?? '';
    const secret = /^Webhook signing secret \(shown once\): (whsec_\S+)$/m.exec(out.join('\n'))?.[1] ?? '';
    expect(secret).toMatch(/^whsec_/);

    const request = await deliveryTo(key, '/cli-key');
    expect(verifyWithLibrary(request, secret)).toMatchObject({ type: 'video_task.succeeded' });
    // The list shows no secrets.
    out.length = 0;
    await runKeysCommand(['list'], { apiKeys: () => t.gateway.apiKeys, out: (text) => out.push(text), err: (text) => err.push(text) });
    expect(out.join('\n')).not.toContain('whsec_');
  });

  it('never reaches a log line or an answer when the database refuses to store the new key', async () => {
    await refuseKeysNamed(t.gateway.store);
    const before = logs.entries.length;

    const res = await t.graphql(CREATE_API_KEY, { name: REFUSED_NAME, credits: 10 }, ADMIN_TOKEN);
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(res.body)).not.toContain('whsec_');
    // The failure is logged for the operator, with the database's reason but without the secret.
    const logged = logs.entries.slice(before).filter((e) => e['msg'] === 'unexpected error while executing an operation');
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toMatch(/refused by a test trigger/);
    expect(logs.text).not.toContain('whsec_');

    // The keys CLI prints an unexpected error as it is (keys.ts): that text holds no secret either.
    const apiKeys = createApiKeys({ store: t.gateway.store, clock: systemClock });
    const failure = await runKeysCommand(['create', '--name', REFUSED_NAME, '--credits', '10'], {
      apiKeys: () => apiKeys,
      out: () => undefined,
      err: () => undefined,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    const printed = inspect(failure, { depth: 10 });
    expect(printed).toMatch(/refused by a test trigger/);
    expect(printed).not.toContain('whsec_');
  });
});

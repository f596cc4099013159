import { beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/api-keys.js';
import type { GraphqlResponse } from '../helpers/graphql-http.js';
import { ME, type MeData } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { ledgerTotals } from '../helpers/store-audit.js';

const ADMIN_TOKEN = 'a-long-admin-token-for-tests';

const ACCOUNT_FIELDS = 'id name creditBalance creditsHeld creditsUsed keyPrefix revoked';
const CREATE_API_KEY = /* GraphQL */ `
  mutation CreateApiKey($name: String!, $credits: Int!) {
    createApiKey(name: $name, credits: $credits) { key account { ${ACCOUNT_FIELDS} } }
  }
`;
const GRANT_CREDITS = /* GraphQL */ `
  mutation GrantCredits($id: ID!, $credits: Int!) {
    grantCredits(id: $id, credits: $credits) { ${ACCOUNT_FIELDS} }
  }
`;
const REVOKE_API_KEY = /* GraphQL */ `
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) { ${ACCOUNT_FIELDS} }
  }
`;

interface AccountData {
  id: string;
  name: string;
  creditBalance: number;
  creditsHeld: number;
  creditsUsed: number;
  keyPrefix: string;
  revoked: boolean;
}

let t: TestGateway;
let withoutAdmin: TestGateway;

beforeAll(async () => {
  [t, withoutAdmin] = await Promise.all([startGateway({ env: { ADMIN_TOKEN } }), startGateway()]);
});

async function createKey(name: string, credits: number) {
  const res = await t.graphql<{ createApiKey: { key: string; account: AccountData } }>(CREATE_API_KEY, { name, credits }, ADMIN_TOKEN);
  expect(res.body.errors).toBeUndefined();
  const created = res.body.data?.createApiKey;
  if (!created) throw new Error(`createApiKey answered ${JSON.stringify(res.body)}`);
  return created;
}

/** Status, error codes and data of a refused operation, in one comparable object. */
function refusal(res: GraphqlResponse) {
  return { status: res.status, codes: res.body.errors?.map((e) => e.extensions?.['code']), data: res.body.data ?? null };
}

describe('admin mutations with ADMIN_TOKEN set', () => {
  it('createApiKey returns a new key, shown once, that works for me at once', async () => {
    const { key, account } = await createKey('partner', 250);
    expect(key).toMatch(/^kgw_[A-Za-z0-9_-]{43}$/);
    expect(account).toEqual({
      id: expect.stringMatching(/^key_/) as string,
      name: 'partner',
      creditBalance: 250,
      creditsHeld: 0,
      creditsUsed: 0,
      keyPrefix: key.slice(0, 10),
      revoked: false,
    });

    const me = await t.graphql<MeData>(ME, {}, key);
    expect(me.status).toBe(200);
    expect(me.body.data?.me).toEqual({ name: 'partner', creditBalance: 250, creditsHeld: 0, creditsUsed: 0 });

    // Only the hash is stored, so nothing can show the key a second time.
    const row = await t.gateway.store.findApiKeyByHash(hashApiKey(key));
    expect(row?.id).toBe(account.id);
    expect(Object.values(row ?? {})).not.toContain(key);
    expect((await createKey('partner', 250)).key).not.toBe(key);
  });

  it('grantCredits adds to creditBalance and records the grant in the ledger', async () => {
    const { key, account } = await createKey('top-up', 100);
    const res = await t.graphql<{ grantCredits: AccountData }>(GRANT_CREDITS, { id: account.id, credits: 40 }, ADMIN_TOKEN);
    expect(res.body.data?.grantCredits).toMatchObject({ id: account.id, creditBalance: 140 });
    expect((await t.graphql<MeData>(ME, {}, key)).body.data?.me.creditBalance).toBe(140);
    expect(await ledgerTotals(t.gateway.store, account.id)).toEqual({ grant: 140, hold: 0, charge: 0, refund: 0 });
  });

  it('revokeApiKey makes the key answer HTTP 401 at once, and revoking again changes nothing', async () => {
    const { key, account } = await createKey('leaked', 100);
    expect((await t.graphql(ME, {}, key)).status).toBe(200);

    const res = await t.graphql<{ revokeApiKey: AccountData }>(REVOKE_API_KEY, { id: account.id }, ADMIN_TOKEN);
    expect(res.body.data?.revokeApiKey).toMatchObject({ id: account.id, revoked: true });

    const me = await t.graphql(ME, {}, key);
    expect(me.status).toBe(401);
    expect(me.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');

    const again = await t.graphql<{ revokeApiKey: AccountData }>(REVOKE_API_KEY, { id: account.id }, ADMIN_TOKEN);
    expect(again.body.data?.revokeApiKey).toMatchObject({ id: account.id, revoked: true });
  });

  it('answers an unknown key id with NOT_FOUND', async () => {
    const grant = await t.graphql(GRANT_CREDITS, { id: 'key_doesnotexist', credits: 5 }, ADMIN_TOKEN);
    const revoke = await t.graphql(REVOKE_API_KEY, { id: 'key_doesnotexist' }, ADMIN_TOKEN);
    expect(refusal(grant)).toEqual({ status: 200, codes: ['NOT_FOUND'], data: null });
    expect(refusal(revoke)).toEqual({ status: 200, codes: ['NOT_FOUND'], data: null });
  });

  it.each([
    ['createApiKey with negative credits', CREATE_API_KEY, { name: 'x', credits: -1 }],
    ['createApiKey with a blank name', CREATE_API_KEY, { name: '   ', credits: 10 }],
    ['grantCredits of zero', GRANT_CREDITS, { id: 'key_any', credits: 0 }],
  ])('refuses %s with VALIDATION_FAILED', async (_label, query, variables) => {
    const keysBefore = (await t.gateway.apiKeys.list()).length;
    expect(refusal(await t.graphql(query, variables, ADMIN_TOKEN))).toEqual({ status: 200, codes: ['VALIDATION_FAILED'], data: null });
    expect(await t.gateway.apiKeys.list()).toHaveLength(keysBefore);
  });

  it.each([
    ['createApiKey', CREATE_API_KEY, (_id: string) => ({ name: 'sneaky', credits: 1_000_000 })],
    ['grantCredits', GRANT_CREDITS, (id: string) => ({ id, credits: 1_000_000 })],
    ['revokeApiKey', REVOKE_API_KEY, (id: string) => ({ id })],
  ])('refuses an API key calling %s with FORBIDDEN and changes nothing', async (_label, query, variables) => {
    const { key, account } = await createKey('ordinary', 100);
    const keysBefore = (await t.gateway.apiKeys.list()).length;

    const res = await t.graphql(query, variables(account.id), key);
    expect(refusal(res)).toEqual({ status: 200, codes: ['FORBIDDEN'], data: null });

    expect(await t.gateway.apiKeys.list()).toHaveLength(keysBefore);
    expect(await t.gateway.apiKeys.account(account.id)).toMatchObject({ creditBalance: 100, revokedAt: null });
  });

  it('does not treat the admin token as an API key', async () => {
    expect(refusal(await t.graphql(ME, {}, ADMIN_TOKEN))).toEqual({ status: 200, codes: ['FORBIDDEN'], data: null });
  });

  it.each([
    ['a wrong bearer', 'a-long-admin-token-for-testZ'],
    ['an unknown API key', 'kgw_notarealkeynotarealkeynotarealkey0000000'],
    ['no bearer at all', undefined],
  ])('answers %s on createApiKey with HTTP 401 and UNAUTHENTICATED', async (_label, bearer) => {
    const keysBefore = (await t.gateway.apiKeys.list()).length;
    const res = await t.graphql(CREATE_API_KEY, { name: 'intruder', credits: 1 }, bearer);
    expect(refusal(res)).toEqual({ status: 401, codes: ['UNAUTHENTICATED'], data: null });
    expect(await t.gateway.apiKeys.list()).toHaveLength(keysBefore);
  });
});

describe('admin mutations without ADMIN_TOKEN', () => {
  it('refuses the would-be admin token with HTTP 401 and creates nothing', async () => {
    const res = await withoutAdmin.graphql(CREATE_API_KEY, { name: 'intruder', credits: 1 }, ADMIN_TOKEN);
    expect(refusal(res)).toEqual({ status: 401, codes: ['UNAUTHENTICATED'], data: null });
    expect(await withoutAdmin.gateway.apiKeys.list()).toEqual([]);
  });
});

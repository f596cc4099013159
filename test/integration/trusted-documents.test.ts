// Trusted documents: the file codegen writes from the tests' own operations (test/generated/
// persisted-documents.json) is the gateway's TRUSTED_DOCUMENTS_FILE; clients send ids instead of text.
import { fileURLToPath } from 'node:url';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import type { DocumentNode } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '../../src/server/yoga.js';
import { postGraphql } from '../helpers/graphql-http.js';
import { ME } from '../helpers/operations.js';
import { onTeardown } from '../helpers/leftovers.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { toWebSocketUrl } from '../helpers/ws-client.js';

const FILE = fileURLToPath(new URL('../generated/persisted-documents.json', import.meta.url));
const ADMIN_TOKEN = 'trusted-documents-admin-token-0123456789';

/** The id codegen embedded in a typed document. */
const idOf = (document: DocumentNode) => (document as DocumentNode & { __meta__: { hash: string } }).__meta__.hash;

async function post(url: URL, body: Record<string, unknown>, authorization?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } };
}

describe('trusted documents only', () => {
  let t: TestGateway;
  let key: string;
  beforeAll(async () => {
    t = await startGateway({ env: { TRUSTED_DOCUMENTS_FILE: FILE, TRUSTED_DOCUMENTS_ONLY: 'true', ADMIN_TOKEN } });
    key = await t.createKey(250, 'app');
  });

  it('runs a document sent by its documentId in a POST body', async () => {
    const res = await post(t.url, { documentId: idOf(ME) }, `Bearer ${key}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ me: { name: 'app', creditBalance: 250, creditsHeld: 0, creditsUsed: 0 } });
  });

  it('runs a document sent by its documentId in a GET query', async () => {
    const url = new URL(t.url);
    url.searchParams.set('documentId', idOf(ME));
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, [CSRF_HEADER]: '1', accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { me: { name: string } } }).data.me.name).toBe('app');
  });

  it("runs Apollo Client's persisted-query link with the ids codegen embedded", async () => {
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: new PersistedQueryLink({ generateHash: (document) => idOf(document) }).concat(
        new HttpLink({ uri: t.url.href, headers: { authorization: `Bearer ${key}` } }),
      ),
    });
    const result = await client.query({ query: ME, fetchPolicy: 'no-cache' });
    expect(result.data?.me.creditBalance).toBe(250);
  });

  it('refuses an operation sent as text, with a typed error and no execution', async () => {
    const res = await postGraphql(t.url, '{ me { name } }', undefined, { key });
    expect(res.status).toBe(400);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('TRUSTED_DOCUMENT_REQUIRED');
  });

  it('refuses an unknown id as Apollo expects (PersistedQueryNotFound)', async () => {
    const res = await post(t.url, { documentId: `sha256:${'0'.repeat(64)}` }, `Bearer ${key}`);
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
  });

  it('runs a document by id over graphql-ws, and refuses text there too', async () => {
    const client = createClient({ url: toWebSocketUrl(t.url), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` } });
    onTeardown(() => client.dispose());
    const run = async (payload: { query: string; documentId?: string }) => {
      const results: unknown[] = [];
      for await (const result of client.iterate(payload)) results.push(result);
      return results;
    };
    // graphql-ws requires a query string, so a client sending an id sends an empty one beside it.
    expect(await run({ query: '', documentId: idOf(ME) })).toEqual([{ data: { me: { name: 'app', creditBalance: 250, creditsHeld: 0, creditsUsed: 0 } } }]);
    // Refused before execution: graphql-ws's `error` message, which its client throws.
    const refused = (await run({ query: '{ me { name } }' }).catch((errors: unknown) => errors)) as { extensions?: { code?: string } }[];
    expect(refused.map((e) => e.extensions?.code)).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
  });

  it('lets the admin token send any operation', async () => {
    const res = await post(t.url, { query: 'mutation { createApiKey(name: "ops", credits: 1) { account { name } } }' }, `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });
});

describe('trusted documents beside ordinary operations', () => {
  it('runs both ids and text when TRUSTED_DOCUMENTS_ONLY is off', async () => {
    const t = await startGateway({ env: { TRUSTED_DOCUMENTS_FILE: FILE } });
    const key = await t.createKey(5, 'both');
    expect((await post(t.url, { documentId: idOf(ME) }, `Bearer ${key}`)).body.data).toMatchObject({ me: { name: 'both' } });
    expect((await postGraphql(t.url, '{ me { name } }', undefined, { key })).body.data).toEqual({ me: { name: 'both' } });
  });
});

// GraphQL over HTTP conformance: graphql-http's server audits, run against a real gateway. Every
// audit passes for a client that follows the README: an API key (whose Authorization header also
// passes CSRF prevention), or the CSRF header wherever the gateway asks for one. With neither, only the
// audits listed in CSRF_REFUSED fail, each for the reason given there and in the README's Security section.
import { serverAudits, type Audit } from 'graphql-http';
import { beforeAll, describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '../../src/server/yoga.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';

let t: TestGateway;
let key: string;

beforeAll(async () => {
  t = await startGateway();
  key = await t.createKey(100, 'audits');
});

/**
 * The gateway skips the CSRF check only for a request a browser would have preflighted: one whose
 * content type is set and is none of the three a form or `fetch` can send cross-site without CORS.
 */
function needsCsrfHeader(headers: Headers): boolean {
  const contentType = headers.get('content-type')?.toLowerCase();
  return contentType === undefined || ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'].some((t) => contentType.startsWith(t));
}

function fetchAsClient({ csrfHeader, withKey = true }: { csrfHeader: boolean; withKey?: boolean }) {
  return (input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (withKey) headers.set('authorization', `Bearer ${key}`);
    if (csrfHeader && needsCsrfHeader(headers)) headers.set(CSRF_HEADER, '1');
    return fetch(input, { ...init, headers });
  };
}

const url = () => t.url.href;
const rows = (audits: Audit[]) => audits.map((audit) => ({ id: audit.id, name: audit.name, audit }));

async function run(audit: Audit) {
  const result = await audit.fn();
  return { result, reason: result.status === 'ok' ? '' : `${result.reason} (HTTP ${result.response.status})` };
}

describe('graphql-http server audits, with the CSRF header where the gateway asks for it', () => {
  const audits = serverAudits({ url, fetchFn: fetchAsClient({ csrfHeader: true }) });

  it('are all there to run', () => {
    expect(audits.length).toBeGreaterThanOrEqual(60);
  });

  it.each(rows(audits))('$id passes: $name', async ({ audit }) => {
    const { result, reason } = await run(audit);
    expect(result.status, reason).toBe('ok');
  });
});

describe('graphql-http server audits, with the key and no CSRF header (Authorization forces a preflight)', () => {
  const audits = serverAudits({ url, fetchFn: fetchAsClient({ csrfHeader: false }) });

  it.each(rows(audits))('$id passes: $name', async ({ audit }) => {
    const { result, reason } = await run(audit);
    expect(result.status, reason).toBe('ok');
  });
});

/**
 * Audits that use GET, which CSRF prevention refuses (403) without the header or a key: a GET is a
 * "simple" request that any page can make a browser send with the user's cookies. All three are MAY.
 * The audits' operations (`{ __typename }`) need no key.
 */
const CSRF_REFUSED: Record<string, string> = {
  '5A70': 'a GET with form-encoded parameters and no CSRF header is a simple cross-site request',
  D6D5: 'a GET with URL-encoded variables and no CSRF header is a simple cross-site request',
  '6A70': 'a GET with URL-encoded variables and no CSRF header is a simple cross-site request',
};

describe('graphql-http server audits, without a key or any CSRF header', () => {
  const audits = serverAudits({ url, fetchFn: fetchAsClient({ csrfHeader: false, withKey: false }) });
  const allowed = audits.filter((audit) => audit.id in CSRF_REFUSED);
  const required = audits.filter((audit) => !(audit.id in CSRF_REFUSED));

  it('allow only optional (MAY) audits to fail, and every one of them exists', () => {
    expect(allowed.map((audit) => audit.id).sort()).toEqual(Object.keys(CSRF_REFUSED).sort());
    for (const audit of allowed) expect(audit.name).toMatch(/^MAY /);
  });

  it.each(rows(required))('$id passes: $name', async ({ audit }) => {
    const { result, reason } = await run(audit);
    expect(result.status, reason).toBe('ok');
  });

  it.each(rows(allowed))('$id is refused by CSRF prevention, as documented: $name', async ({ audit }) => {
    const { result } = await run(audit);
    expect(result.status).not.toBe('ok');
    if (result.status === 'ok') return;
    expect(result.response.status, CSRF_REFUSED[audit.id]).toBe(403);
  });
});

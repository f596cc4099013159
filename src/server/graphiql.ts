// GraphiQL on GET /graphql: its code inlined from @graphql-yoga/render-graphiql (no CDN, works
// offline), under a Content-Security-Policy that admits only the page's own inline scripts, by hash.
import { createHash } from 'node:crypto';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/**
 * The first tab's text. yoga's GraphiQL shows `defaultQuery` only while the browser has no saved
 * tabs (a later visit restores its own), so the same hint also sits in the header bar (TITLE).
 */
const DEFAULT_QUERY = /* GraphQL */ `# Put your key in the Headers tab below:
#   {"Authorization": "Bearer kgw_..."}
# Queries, mutations and subscriptions (taskUpdated) all send it.
query Models {
  models { model modes durationsSeconds audioModes cameraControl cfgScale }
}

query Me {
  me { name creditBalance creditsHeld creditsUsed }
}
`;

/**
 * yoga's GraphiQL writes `title` into the page's <title> and into the header bar, the one place
 * every visit shows. Plain text: the bar reads it as HTML, the <title> would show tags as typed.
 */
const TITLE = 'kling-gateway · put your key in Headers: {"Authorization": "Bearer kgw_…"}';

export const GRAPHIQL_OPTIONS: GraphiQLOptions = {
  title: TITLE,
  // Over yoga's own HTTP transport the Headers tab reaches subscriptions too; a WebSocket would open
  // with an empty connection_init and be refused.
  subscriptionsProtocol: 'SSE',
  // That SSE request is a GET, which the CSRF check refuses without this header (CSRF_HEADER in
  // yoga.ts, which imports this file) or a key: so an empty Headers tab gets UNAUTHENTICATED, not 403.
  additionalHeaders: { 'x-graphql-yoga-csrf': '1' },
  defaultQuery: DEFAULT_QUERY,
  // Opens the editor tools on Headers, where the key goes.
  defaultEditorToolsVisibility: 'headers',
  // yoga turns persisting on, which keeps the pasted key in localStorage for good; off, a reload
  // asks for it again (as the demo page's sessionStorage does when the tab closes).
  shouldPersistHeaders: false,
};

export interface GraphiQLPage {
  html: string;
  headers: Record<string, string>;
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The hashes of the page's inline scripts, as the browser computes them (over the text between the tags). */
function scriptHashes(html: string): string[] {
  const blocks = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1] ?? '');
  // A later version with other script tags is caught by the browser test (it would see CSP violations).
  if (blocks.length === 0) throw new Error('no inline <script> in the GraphiQL page: did @graphql-yoga/render-graphiql change?');
  return blocks.map(sha256);
}

let defaultPage: Promise<GraphiQLPage> | undefined;

/**
 * The page with GRAPHIQL_OPTIONS, built on first request and then shared. The package is 9 MB of
 * JavaScript (over a second to load, 50 MB of memory), so a gateway that serves no GraphiQL never loads it.
 */
export function loadGraphiQLPage(): Promise<GraphiQLPage> {
  defaultPage ??= buildGraphiQLPage();
  return defaultPage;
}

/**
 * Renders the page (about 9 MB, the same for every request) and derives its policy from it.
 * Monaco runs its language workers from blob: URLs and adds <style> elements at run time, which a
 * hash cannot name; styles cannot run script, so style-src allows inline ones rather than break the
 * editor. Scripts stay limited to the hashed blocks and the blob workers those blocks create.
 */
export async function buildGraphiQLPage(options: GraphiQLOptions = GRAPHIQL_OPTIONS): Promise<GraphiQLPage> {
  const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
  const html = renderGraphiQL(options);
  const policy = [
    "default-src 'none'",
    `script-src ${scriptHashes(html).join(' ')}`,
    'worker-src blob:',
    // A hash or nonce here would switch 'unsafe-inline' off (CSP 3), and Monaco's run-time styles with it.
    "style-src 'unsafe-inline'",
    // The favicon and the fonts are data: URLs inside the page.
    'img-src data:',
    'font-src data:',
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    html,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': policy,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    },
  };
}

/** yoga's `renderGraphiQL`: the shared page, whatever options yoga passes (they are GRAPHIQL_OPTIONS). */
export async function renderGatewayGraphiQL(): Promise<string> {
  return (await loadGraphiQLPage()).html;
}

/** Adds the page's security headers to yoga's GraphiQL answer, its one text/html response. */
export function useGraphiQLHeaders(): Plugin {
  return {
    async onResponse({ response }) {
      if (!response.headers.get('content-type')?.startsWith('text/html')) return;
      const { headers } = await loadGraphiQLPage();
      for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    },
  };
}

// The webhook sender's connections, checked where it counts: at connect time. A name is resolved
// once, every address it resolves to is checked, and the socket connects to those checked addresses
// (net's `lookup` hook), so a name that resolves to a private address, or changes its answer between
// validation and delivery (DNS rebinding), is refused. TLS still verifies the certificate against the name.
import { promises as dns } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { bareHostname, describeRange, effectivePort, isAllowedHost, nonPublicRange, type WebhookTargetPolicy } from './webhook-target.js';

/** Resolves a host name to its addresses; tests pass their own to map a name onto loopback. */
export type WebhookLookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export const systemLookup: WebhookLookup = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/** A delivery the policy forbids: trying again cannot help, so the sender gives it up at once. */
export class WebhookTargetRefusedError extends Error {
  override readonly name = 'WebhookTargetRefusedError';
  readonly code = 'ERR_WEBHOOK_TARGET_REFUSED';
}

/** The refusal behind an error undici reports, if there is one (it may come wrapped). */
export function targetRefusalOf(error: unknown): WebhookTargetRefusedError | null {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof WebhookTargetRefusedError) return e;
  }
  return null;
}

function notFound(hostname: string) {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
}

/** net's lookup hook over `resolve`; with `check`, any non-public address refuses the whole name. */
function netLookup(resolve: WebhookLookup, check: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        if (check) {
          for (const { address } of addresses) {
            const range = nonPublicRange(address);
            if (range !== null) {
              callback(new WebhookTargetRefusedError(`${hostname} resolves to ${address}, ${describeRange(range)}`), '', 0);
              return;
            }
          }
        }
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
        const usable = addresses.filter((a) => family === 0 || a.family === family).map((a) => ({ address: a.address, family: a.family }));
        const [first] = usable;
        if (!first) callback(notFound(hostname), '', 0);
        else if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), '', 0),
    );
  };
}

export interface WebhookConnectorOptions {
  policy: WebhookTargetPolicy;
  /** @default systemLookup */
  lookup?: WebhookLookup | undefined;
  /** Connecting (and the TLS handshake), in milliseconds. */
  timeoutMs: number;
}

/** An undici connector that connects only to public addresses, or to allow-listed hosts. */
export function createWebhookConnector(options: WebhookConnectorOptions): buildConnector.connector {
  const resolve = options.lookup ?? systemLookup;
  const checked = buildConnector({ timeout: options.timeoutMs, lookup: netLookup(resolve, true) });
  const trusted = buildConnector({ timeout: options.timeoutMs, lookup: netLookup(resolve, false) });
  return (connectOptions, callback) => {
    const hostname = bareHostname(connectOptions.hostname);
    if (isAllowedHost(options.policy, hostname, effectivePort(connectOptions.protocol, connectOptions.port))) {
      trusted(connectOptions, callback);
      return;
    }
    // net does not look up an IP address, so a literal one is checked here.
    const range = isIP(hostname) === 0 ? null : nonPublicRange(hostname);
    if (range !== null) {
      const refusal = new WebhookTargetRefusedError(`${hostname} is ${describeRange(range)}`);
      queueMicrotask(() => callback(refusal, null));
      return;
    }
    checked(connectOptions, callback);
  };
}

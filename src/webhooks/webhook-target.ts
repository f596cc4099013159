// Where webhooks may go. A webhook URL is chosen by the caller, so without these rules it is a way to
// make the gateway POST into its own network (SSRF): loopback, the cloud metadata service, cluster
// services. The rules run twice: on the URL when a task is created (tasks/input.ts), so a bad target
// is refused before anything is stored, and on every address a name resolves to when the sender
// connects (webhook-connector.ts), which also catches public names that resolve, or rebind, to private
// addresses. An operator lets internal receivers through with WEBHOOK_ALLOWED_HOSTS.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** One WEBHOOK_ALLOWED_HOSTS entry: a host name or IP address (normalised as URLs are), with or without a port. */
export interface AllowedHost {
  /** Lower case, IPv6 without brackets, no trailing dot. */
  hostname: string;
  /** null: the default ports, 80 and 443. */
  port: number | null;
}

export interface WebhookTargetPolicy {
  /** Receivers the operator trusts: they skip the address, name, port and https rules, at validation and at connect time. */
  allowedHosts: readonly AllowedHost[];
  /** Refuse http: (production). */
  httpsOnly: boolean;
}

/** No exceptions, http allowed: what applies where no gateway config says otherwise. */
export const DEFAULT_WEBHOOK_TARGETS: WebhookTargetPolicy = { allowedHosts: [], httpsOnly: false };

/** Names only a local resolver answers. `.svc.cluster.local` and `metadata.google.internal` are among them. */
const LOCAL_NAME_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa'];

const RANGE_WORDS: Record<string, string> = {
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address',
  private: 'a private address',
  uniqueLocal: 'a unique-local address',
  reserved: 'a reserved address',
};

/** 2000::/3: the only IPv6 addresses that are global unicast; ipaddr.js calls `::7f00:1` unicast too. */
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/**
 * The special-purpose range an IP address is in (ipaddr.js's name, e.g. `loopback`, `private`,
 * `ipv4Mapped:loopback`), or null for an ordinary public unicast address. IPv4-mapped IPv6 addresses
 * are judged by their IPv4 address. Takes any form ipaddr.js parses (`127.1`, `2130706433`, `[::1]`);
 * anything else is `invalid`.
 */
export function nonPublicRange(address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return 'invalid';
  const ip = ipaddr.parse(bare);
  if (ip.kind() === 'ipv4') {
    const range = ip.range();
    return range === 'unicast' ? null : range;
  }
  const v6 = ip as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) {
    const inner = nonPublicRange(v6.toIPv4Address().toString());
    return inner === null ? null : `ipv4Mapped:${inner}`;
  }
  const range = v6.range();
  if (range !== 'unicast') return range;
  return v6.match(IPV6_GLOBAL_UNICAST) ? null : 'reserved';
}

/** `a loopback address`, `an IPv4-mapped private address`, `a special-purpose address (6to4)`. */
export function describeRange(range: string): string {
  if (range.startsWith('ipv4Mapped:')) {
    const inner = describeRange(range.slice('ipv4Mapped:'.length)).replace(/^(a|an|the) /, '');
    return `an IPv4-mapped ${inner}`;
  }
  if (range === 'invalid') return 'not an IP address';
  return RANGE_WORDS[range] ?? `a special-purpose address (${range})`;
}

/** Why a host name (not an IP address) can only be local, or null. */
function localName(hostname: string): string | null {
  if (hostname === 'localhost' || LOCAL_NAME_SUFFIXES.some((suffix) => hostname.endsWith(suffix))) return 'a local name';
  // Only search domains of a local resolver complete these (`metadata`, `my-service`).
  if (!hostname.includes('.')) return 'a single-label name';
  return null;
}

/** The URL's host as the rules compare it: no IPv6 brackets, no trailing dot (`localhost.` is localhost). */
export function bareHostname(hostname: string): string {
  const unbracketed = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return unbracketed.replace(/\.+$/, '');
}

/** The port a URL's request goes to. */
export const effectivePort = (protocol: string, port: string) => (port === '' ? (protocol === 'https:' ? 443 : 80) : Number(port));

export function isAllowedHost(policy: WebhookTargetPolicy, hostname: string, port: number): boolean {
  return policy.allowedHosts.some(
    (entry) => entry.hostname === hostname && (entry.port === null ? port === 80 || port === 443 : entry.port === port),
  );
}

/**
 * Why `value` may not receive webhooks under `policy`, as a sentence naming `webhookUrl`; null when it
 * may. The URL is read by the WHATWG parser, as the sender reads it, so `http://2130706433/`,
 * `http://0x7f000001/` and `http://127.1/` are all 127.0.0.1. Expects an absolute http(s) URL.
 */
export function webhookUrlRefusal(value: string, policy: WebhookTargetPolicy): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'webhookUrl must be an absolute http(s) URL.';
  }
  if (url.username !== '' || url.password !== '') return 'webhookUrl must not contain a user name or password.';
  const hostname = bareHostname(url.hostname);
  if (isAllowedHost(policy, hostname, effectivePort(url.protocol, url.port))) return null;
  if (policy.httpsOnly && url.protocol !== 'https:') return 'webhookUrl must be an https URL.';
  if (url.port !== '' && url.port !== '80' && url.port !== '443') return `webhookUrl must use port 80 or 443, not ${url.port}.`;
  if (isIP(hostname) !== 0) {
    const range = nonPublicRange(hostname);
    return range === null ? null : `webhookUrl must point to a public address; ${hostname} is ${describeRange(range)}.`;
  }
  const local = localName(hostname);
  return local === null ? null : `webhookUrl must name a public host; ${hostname} is ${local}.`;
}

/**
 * Reads WEBHOOK_ALLOWED_HOSTS: comma-separated `host` or `host:port` entries, IPv6 in brackets
 * (`[fd00::1]:8080`). A `host` entry allows ports 80 and 443; `host:port` just that port.
 */
export function parseAllowedHosts(value: string): { hosts: AllowedHost[]; problems: string[] } {
  const hosts: AllowedHost[] = [];
  const problems: string[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@\\[\]]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[2] === undefined ? null : Number(match[2]);
    let hostname: string | null = null;
    if (match?.[1] !== undefined) {
      try {
        hostname = bareHostname(new URL(`http://${match[1]}/`).hostname);
      } catch {
        hostname = null;
      }
    }
    if (hostname === null || hostname === '' || (port !== null && !(port >= 1 && port <= 65_535))) {
      problems.push(`"${entry}" is not a host or host:port (IPv6 in brackets)`);
      continue;
    }
    hosts.push({ hostname, port });
  }
  return { hosts, problems };
}

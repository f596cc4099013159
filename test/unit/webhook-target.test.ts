// The webhook target rules (SSRF): the address classifier, the URL rules and WEBHOOK_ALLOWED_HOSTS.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import {
  DEFAULT_WEBHOOK_TARGETS,
  describeRange,
  nonPublicRange,
  parseAllowedHosts,
  webhookUrlRefusal,
  type WebhookTargetPolicy,
} from '../../src/webhooks/webhook-target.js';

describe('nonPublicRange (the address classifier)', () => {
  it.each([
    // Loopback, in every spelling a parser may hand over.
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['2130706433', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['127.1', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'ipv4Mapped:loopback'],
    ['::ffff:7f00:1', 'ipv4Mapped:loopback'],
    // Unspecified: connecting to it reaches this host.
    ['0', 'unspecified'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    // RFC 1918 and its edges.
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['::ffff:10.1.2.3', 'ipv4Mapped:private'],
    ['::ffff:c0a8:101', 'ipv4Mapped:private'],
    // Link-local: the cloud metadata service.
    ['169.254.169.254', 'linkLocal'],
    ['::ffff:169.254.169.254', 'ipv4Mapped:linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.255', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456:789a::1', 'uniqueLocal'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    // IPv6 forms that embed an IPv4 address, and addresses outside global unicast.
    ['::7f00:1', 'reserved'],
    ['::ffff:0:7f00:1', 'rfc6145'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::', '6to4'],
    ['2001::1', 'teredo'],
    ['100::1', 'discard'],
    ['4000::1', 'reserved'],
    ['not-an-ip', 'invalid'],
    ['hooks.example.com', 'invalid'],
  ])('%s is %s', (address, range) => {
    expect(nonPublicRange(address)).toBe(range);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.15.255.255', '172.32.0.0', '100.63.255.255', '169.253.0.1', '::ffff:8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])(
    '%s is public',
    (address) => {
      expect(nonPublicRange(address)).toBeNull();
    },
  );

  it('words each range for a message', () => {
    expect(describeRange('loopback')).toBe('a loopback address');
    expect(describeRange('ipv4Mapped:private')).toBe('an IPv4-mapped private address');
    expect(describeRange('6to4')).toBe('a special-purpose address (6to4)');
  });
});

const ALLOW_LOOPBACK_RECEIVER: WebhookTargetPolicy = {
  allowedHosts: parseAllowedHosts('127.0.0.1:4567, hooks.svc.cluster.local, [fd00::1]:8080').hosts,
  httpsOnly: false,
};

describe('webhookUrlRefusal', () => {
  it.each([
    ['http://127.0.0.1/', /127\.0\.0\.1 is a loopback address/],
    ['http://2130706433/', /127\.0\.0\.1 is a loopback address/],
    ['http://0x7f000001/', /127\.0\.0\.1 is a loopback address/],
    ['http://127.1/', /127\.0\.0\.1 is a loopback address/],
    ['http://127.0.0.1./', /127\.0\.0\.1 is a loopback address/],
    ['http://0/', /0\.0\.0\.0 is the unspecified address/],
    ['http://[::1]/', /::1 is a loopback address/],
    ['http://[::ffff:127.0.0.1]/', /::ffff:7f00:1 is an IPv4-mapped loopback address/],
    ['http://[::ffff:7f00:1]/', /IPv4-mapped loopback/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://10.0.0.1/', /private/],
    ['http://172.16.5.4/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://100.64.1.1/', /carrier-grade NAT/],
    ['http://[fd00::1]/', /unique-local/],
    ['http://localhost/', /localhost is a local name/],
    ['http://LOCALHOST./', /localhost is a local name/],
    ['http://%6c%6fcalhost/', /localhost is a local name/],
    ['http://app.localhost/', /local name/],
    ['http://printer.local/', /local name/],
    ['http://api.svc.cluster.local/', /local name/],
    ['http://metadata.google.internal/computeMetadata/v1/', /local name/],
    ['http://metadata/computeMetadata/v1/', /single-label name/],
    ['http://evil@127.0.0.1/', /user name or password/],
    ['https://user:secret@hooks.example.com/', /user name or password/],
    ['https://hooks.example.com:8443/', /port 80 or 443, not 8443/],
    ['http://hooks.example.com:22/', /port 80 or 443, not 22/],
  ])('refuses %s', (url, message) => {
    expect(webhookUrlRefusal(url, DEFAULT_WEBHOOK_TARGETS)).toMatch(message);
  });

  it.each(['https://hooks.example.com/kling', 'http://hooks.example.com/kling', 'https://hooks.example.com:443/x', 'http://hooks.example.com:80/x', 'http://93.184.215.14/', 'https://[2606:4700:4700::1111]/', 'https://hooks.example.com./x'])(
    'accepts %s',
    (url) => {
      expect(webhookUrlRefusal(url, DEFAULT_WEBHOOK_TARGETS)).toBeNull();
    },
  );

  it('refuses http: in production (httpsOnly)', () => {
    const production = { ...DEFAULT_WEBHOOK_TARGETS, httpsOnly: true };
    expect(webhookUrlRefusal('http://hooks.example.com/', production)).toBe('webhookUrl must be an https URL.');
    expect(webhookUrlRefusal('https://hooks.example.com/', production)).toBeNull();
  });

  it('lets allow-listed hosts through, on the listed port only', () => {
    expect(webhookUrlRefusal('http://127.0.0.1:4567/hook', ALLOW_LOOPBACK_RECEIVER)).toBeNull();
    expect(webhookUrlRefusal('http://127.0.0.1:4568/hook', ALLOW_LOOPBACK_RECEIVER)).toMatch(/port 80 or 443/);
    expect(webhookUrlRefusal('http://127.0.0.1/hook', ALLOW_LOOPBACK_RECEIVER)).toMatch(/loopback/);
    // Another spelling of the same address is the same host; another name for it is not.
    expect(webhookUrlRefusal('http://2130706433:4567/hook', ALLOW_LOOPBACK_RECEIVER)).toBeNull();
    expect(webhookUrlRefusal('http://localhost:4567/hook', ALLOW_LOOPBACK_RECEIVER)).toMatch(/port 80 or 443/);
    // A host entry covers the default ports.
    expect(webhookUrlRefusal('https://hooks.svc.cluster.local/x', ALLOW_LOOPBACK_RECEIVER)).toBeNull();
    expect(webhookUrlRefusal('http://hooks.svc.cluster.local/x', ALLOW_LOOPBACK_RECEIVER)).toBeNull();
    expect(webhookUrlRefusal('http://hooks.svc.cluster.local:8080/x', ALLOW_LOOPBACK_RECEIVER)).toMatch(/port/);
    expect(webhookUrlRefusal('http://[fd00::1]:8080/x', ALLOW_LOOPBACK_RECEIVER)).toBeNull();
    // Listed hosts skip https-only too, but never the userinfo rule.
    expect(webhookUrlRefusal('http://127.0.0.1:4567/hook', { ...ALLOW_LOOPBACK_RECEIVER, httpsOnly: true })).toBeNull();
    expect(webhookUrlRefusal('http://u@127.0.0.1:4567/hook', ALLOW_LOOPBACK_RECEIVER)).toMatch(/user name/);
  });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  it('parses host and host:port entries, normalised as URLs are', () => {
    expect(parseAllowedHosts(' Hooks.Example.COM , 127.0.0.1:8080,[::1]:9000,[FD00::1],, 2130706433:81 ')).toEqual({
      hosts: [
        { hostname: 'hooks.example.com', port: null },
        { hostname: '127.0.0.1', port: 8080 },
        { hostname: '::1', port: 9000 },
        { hostname: 'fd00::1', port: null },
        { hostname: '127.0.0.1', port: 81 },
      ],
      problems: [],
    });
  });

  it.each(['http://hooks.example.com', 'hooks.example.com/path', 'user@hooks.example.com', '::1', 'host:0', 'host:70000', 'a b'])(
    'refuses %j',
    (entry) => {
      expect(parseAllowedHosts(entry).problems).toHaveLength(1);
    },
  );

  it('is read once by loadConfig, which refuses a bad entry at start', () => {
    expect(loadConfig({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:4567' }).webhooks.targets).toEqual({
      allowedHosts: [{ hostname: '127.0.0.1', port: 4567 }],
      httpsOnly: false,
    });
    expect(loadConfig({}).webhooks.targets).toEqual({ allowedHosts: [], httpsOnly: false });
    expect(loadConfig({ NODE_ENV: 'production' }).webhooks.targets.httpsOnly).toBe(true);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'ok.example.com,http://bad/' })).toThrow(/WEBHOOK_ALLOWED_HOSTS: "http:\/\/bad\/"/);
  });
});

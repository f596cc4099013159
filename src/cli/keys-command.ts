// `npm run keys`: parsing, the four commands and their output, kept apart from process and database
// setup (keys.ts) so tests run them against any ApiKeys with captured output.
import { parseArgs } from 'node:util';
import type { Account, ApiKeys } from '../auth/api-keys.js';
import { ValidationError } from '../errors.js';

export const KEYS_USAGE = `Manage API keys in the gateway's database (DATABASE_URL, default ./data/gateway.db).

Usage: npm run keys -- <command> [options]

Commands:
  create --name NAME --credits N   create a key with N credits; prints the key and its webhook
                                   signing secret once
  list                             list every key with its credits
  grant <id|name> --credits N      add N credits to a key
  revoke <id|name>                 revoke a key; it stops authenticating

Options:
  -h, --help                       show this help`;

/** Same ceiling as the admin mutations, so neither path can create a balance the other refuses. */
export const MAX_CREDITS = 1_000_000_000;
const MAX_NAME_LENGTH = 100;

export type KeysCommand =
  | { command: 'help' }
  | { command: 'list' }
  | { command: 'create'; name: string; credits: number }
  | { command: 'grant'; key: string; credits: number }
  | { command: 'revoke'; key: string };

/** A mistake the operator can fix: printed as one line, exit code 1, no stack trace. */
export class KeysCliError extends Error {
  override readonly name = 'KeysCliError';
  constructor(
    message: string,
    /** False when the command was well-formed and only its target was wrong. */
    readonly pointToUsage = true,
  ) {
    super(message);
  }
}

function parseCredits(text: string | undefined, min: number): number {
  if (text === undefined) throw new KeysCliError('--credits N is required.');
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > MAX_CREDITS) {
    throw new KeysCliError(`--credits must be a whole number from ${min} to ${MAX_CREDITS}, not "${text}".`);
  }
  return value;
}

function expectArguments(command: string, rest: readonly string[], count: number, shape: string): void {
  if (rest.length !== count) {
    throw new KeysCliError(`"${command}" takes ${count === 0 ? 'no arguments' : shape}; got ${rest.length === 0 ? 'none' : rest.map((r) => `"${r}"`).join(' ')}.`);
  }
}

/** Throws KeysCliError for anything that is not one well-formed command. */
export function parseKeysCommand(argv: readonly string[]): KeysCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { name: { type: 'string' }, credits: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs reports unknown options and missing values as TypeErrors with readable messages.
    throw new KeysCliError(error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') return { command: 'help' };
  if (command === undefined) throw new KeysCliError('No command given.');

  const refuseOptions = (...names: ('name' | 'credits')[]) => {
    for (const name of names) if (values[name] !== undefined) throw new KeysCliError(`"${command}" takes no --${name}.`);
  };

  switch (command) {
    case 'create': {
      expectArguments(command, rest, 0, '');
      const name = values.name?.trim();
      if (!name) throw new KeysCliError('--name NAME is required.');
      if (name.length > MAX_NAME_LENGTH) throw new KeysCliError(`--name must be at most ${MAX_NAME_LENGTH} characters.`);
      return { command, name, credits: parseCredits(values.credits, 0) };
    }
    case 'list':
      expectArguments(command, rest, 0, '');
      refuseOptions('name', 'credits');
      return { command };
    case 'grant':
      expectArguments(command, rest, 1, 'one key id or name');
      refuseOptions('name');
      return { command, key: rest[0] ?? '', credits: parseCredits(values.credits, 1) };
    case 'revoke':
      expectArguments(command, rest, 1, 'one key id or name');
      refuseOptions('name', 'credits');
      return { command, key: rest[0] ?? '' };
    default:
      throw new KeysCliError(`Unknown command "${command}".`);
  }
}

/** UTC and without milliseconds, so the same database prints the same table on every machine. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatKeyTable(accounts: readonly Account[]): string {
  const header = ['id', 'name', 'key prefix', 'balance', 'held', 'used', 'created', 'revoked'];
  const numeric = new Set([3, 4, 5]);
  const rows = accounts.map((a) => [
    a.id,
    a.name,
    `${a.keyPrefix}…`,
    String(a.creditBalance),
    String(a.creditsHeld),
    String(a.creditsUsed),
    formatTime(a.createdAt),
    a.revokedAt === null ? '-' : formatTime(a.revokedAt),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const label = (a: Account) => `"${a.name}" (${a.id})`;

/**
 * An id matches first. Names are not unique, so a name must pick out one key: among keys sharing it,
 * the one still active wins, because granting to or revoking a revoked key is never what was meant.
 */
async function resolveKey(apiKeys: KeysCommandApi, ref: string): Promise<Account> {
  const all = await apiKeys.list();
  const byId = all.find((a) => a.id === ref);
  if (byId) return byId;
  const named = all.filter((a) => a.name === ref);
  const active = named.filter((a) => a.revokedAt === null);
  const only = active.length === 1 ? active[0] : named.length === 1 ? named[0] : undefined;
  if (only) return only;
  if (named.length === 0) throw new KeysCliError(`No API key with id or name "${ref}". See: npm run keys -- list`, false);
  const candidates = active.length > 0 ? active : named;
  throw new KeysCliError(
    `${candidates.length} ${active.length > 0 ? 'active' : 'revoked'} keys are named "${ref}"; use one of their ids: ${candidates.map((a) => a.id).join(', ')}.`,
    false,
  );
}

export type KeysCommandApi = Pick<ApiKeys, 'create' | 'list' | 'grant' | 'revoke'>;

export interface KeysCommandDeps {
  /** Called only by commands that need the database, so `--help` and a mistyped command never open or create it. */
  apiKeys: () => KeysCommandApi | Promise<KeysCommandApi>;
  /** Results, one call per line or block. */
  out: (text: string) => void;
  /** Errors and usage after a mistake. */
  err: (text: string) => void;
}

export async function executeKeysCommand(command: KeysCommand, deps: KeysCommandDeps): Promise<void> {
  const { out } = deps;
  if (command.command === 'help') {
    out(KEYS_USAGE);
    return;
  }
  const apiKeys = await deps.apiKeys();
  switch (command.command) {
    case 'create': {
      const { key, webhookSecret, account } = await apiKeys.create(command.name, command.credits);
      out(`Created key ${label(account)} with ${account.creditBalance} credits.`);
      out(`API key (shown once): ${key}`);
      // Receivers verify the key's webhooks with it (Standard Webhooks); the key's owner can rotate it.
      out(`Webhook signing secret (shown once): ${webhookSecret}`);
      return;
    }
    case 'list': {
      const accounts = await apiKeys.list();
      out(accounts.length === 0 ? 'No API keys yet. Create one with: npm run keys -- create --name NAME --credits N' : formatKeyTable(accounts));
      return;
    }
    case 'grant': {
      const target = await resolveKey(apiKeys, command.key);
      const updated = await apiKeys.grant(target.id, command.credits).catch((error: unknown) => {
        // Over the most a key can hold: refused before anything was written.
        if (error instanceof ValidationError) throw new KeysCliError(error.message, false);
        throw error;
      });
      if (!updated) throw new KeysCliError(`No API key with id "${target.id}".`, false);
      out(`Granted ${command.credits} credits to ${label(updated)}; balance now ${updated.creditBalance}.`);
      if (updated.revokedAt !== null) out(`Note: this key was revoked at ${formatTime(updated.revokedAt)} and cannot use them.`);
      return;
    }
    case 'revoke': {
      const target = await resolveKey(apiKeys, command.key);
      if (target.revokedAt !== null) {
        out(`Key ${label(target)} was already revoked at ${formatTime(target.revokedAt)}.`);
        return;
      }
      await apiKeys.revoke(target.id);
      // Running gateways cache successful lookups (api-keys.ts, cacheTtlMs), so say when they notice.
      out(`Revoked key ${label(target)}. Running gateways refuse it within 5 seconds.`);
      return;
    }
  }
}

/** Parses and runs one command; resolves with the process exit code. Unexpected errors propagate. */
export async function runKeysCommand(argv: readonly string[], deps: KeysCommandDeps): Promise<number> {
  try {
    await executeKeysCommand(parseKeysCommand(argv), deps);
    return 0;
  } catch (error) {
    if (!(error instanceof KeysCliError)) throw error;
    deps.err(`Error: ${error.message}`);
    if (error.pointToUsage) deps.err('Run "npm run keys -- --help" for usage.');
    return 1;
  }
}

// A developer whose port is taken gets one line naming the address and PORT, and exit code 1:
// no stack, and no "Internal error emitted on the WebSocket server" from graphql-ws.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onTeardown } from '../helpers/leftovers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('a port already in use', () => {
  it('prints one line naming the address and PORT, and exits 1', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    onTeardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const { port } = squatter.address() as AddressInfo;

    const child = spawn(join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
      cwd: root,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', PORT: String(port), DATABASE_URL: ':memory:', LOG_LEVEL: 'warn', DEMO_KEY: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`Cannot listen on 127.0.0.1:${port}: the address is already in use. Set PORT (and HOST) to a free address.`);
    expect(stdout).not.toContain('Gateway ready');
  }, 60_000);
});

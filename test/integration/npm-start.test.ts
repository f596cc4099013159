// The fresh-machine promise: `npm start` on an empty directory serves GraphQL and prints a demo key.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { postGraphql } from '../helpers/graphql-http.js';
import { ME, type MeData } from '../helpers/operations.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-start-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child?.pid !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with everything printed once `pattern` has appeared on stdout. */
function waitForOutput(proc: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) resolve(out);
    });
    proc.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${out}`)));
  });
}

describe('npm start', () => {
  it('starts on a fresh directory with the simulator and answers the printed demo key', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', DATABASE_URL: join(dir, 'gateway.db'), LOG_LEVEL: 'warn' };
    delete env['KLING_ACCESS_KEY'];
    delete env['KLING_SECRET_KEY'];
    delete env['NODE_ENV'];
    // Its own process group, so the teardown stops npm and the gateway under it together.
    child = spawn('npm', ['start', '--silent'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const out = await waitForOutput(child, /Gateway ready at (http:\S+)/);

    const key = /Demo API key: (kgw_\S+)/.exec(out)?.[1];
    const url = /Gateway ready at (http:\S+)/.exec(out)?.[1];
    expect(key).toBeDefined();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);

    const res = await postGraphql<MeData>(url ?? '', ME, {}, { key });
    expect(res.body.data?.me).toEqual({ name: 'demo', creditBalance: 1_000, creditsHeld: 0, creditsUsed: 0 });

    const graphiql = await fetch(url ?? '', { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toContain('GraphiQL');
  }, 60_000);
});

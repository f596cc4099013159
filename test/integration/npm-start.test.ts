// The fresh-machine promise: `npm start` on an empty directory serves GraphQL and prints a demo key.
// And the production promise: once `npm run build` has written dist/, `npm start`, `npm run keys` and
// `npm run simulator` run without esbuild or tsx (dev dependencies), rebuilding only a stale bundle.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphql } from '../helpers/graphql-http.js';
import { ME, type MeData } from '../helpers/operations.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-start-'));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Detached children lead their own process group (npm and the gateway under it): stop them together.
      process.kill(child.spawnargs[0] === 'npm' ? -child.pid : child.pid, 'SIGTERM');
      await exited;
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with everything printed once `pattern` has appeared on stdout. */
function waitForOutput(proc: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) resolve(out);
    });
    proc.once('exit', (code) => reject(new Error(`${proc.spawnargs.join(' ')} exited with ${code}:\n${out}${err}`)));
  });
}

function gatewayEnv(dbDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', DATABASE_URL: join(dbDir, 'gateway.db'), LOG_LEVEL: 'warn' };
  delete env['KLING_ACCESS_KEY'];
  delete env['KLING_SECRET_KEY'];
  delete env['NODE_ENV'];
  return env;
}

/** Checks the printed demo key against the printed endpoint, and that GraphiQL is served. */
async function expectServingDemoKey(out: string): Promise<void> {
  const key = /Demo API key: (kgw_\S+)/.exec(out)?.[1];
  const url = /Gateway ready at (http:\S+)/.exec(out)?.[1];
  expect(key).toBeDefined();
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);

  const res = await postGraphql<MeData>(url ?? '', ME, {}, { key });
  expect(res.body.data?.me).toEqual({ name: 'demo', creditBalance: 1_000, creditsHeld: 0, creditsUsed: 0 });

  const graphiql = await fetch(url ?? '', { headers: { accept: 'text/html' } });
  expect(graphiql.status).toBe(200);
  expect(await graphiql.text()).toContain('GraphiQL');
}

describe('npm start', () => {
  it('starts on a fresh directory with the simulator and answers the printed demo key', async () => {
    const db = join(dir, 'fresh');
    mkdirSync(db);
    // Its own process group, so the teardown stops npm and the gateway under it together.
    const child = spawn('npm', ['start', '--silent'], { cwd: root, env: gatewayEnv(db), detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await expectServingDemoKey(await waitForOutput(child, /Gateway ready at (http:\S+)/));
  }, 60_000);
});

// On a copy of the project (sources, migrations, scripts; node_modules linked), so that its dist/ and
// src/ can be changed freely. "Production" child processes get a preload that makes esbuild, tsx and
// express impossible to load, as in an `npm ci --omit=dev` install (express: the MCP SDK depends on it
// but the transport the gateway uses never loads it).
describe('the built bundle', () => {
  const project = join(dir, 'project');
  const blocker = join(dir, 'no-dev-packages.cjs');
  const keysEntry = join(project, 'src/cli/keys.ts');

  beforeAll(() => {
    mkdirSync(project);
    for (const entry of ['src', 'drizzle', 'scripts', 'package.json', 'tsconfig.json']) {
      cpSync(join(root, entry), join(project, entry), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'), 'dir');
    const hooks = `
      const blocked = /^(esbuild|tsx|express)(\\/|$)/;
      export async function resolve(specifier, context, next) {
        if (blocked.test(specifier)) {
          throw Object.assign(new Error(\`Cannot find package '\${specifier}' (not in a production install)\`), { code: 'ERR_MODULE_NOT_FOUND' });
        }
        return next(specifier, context);
      }`;
    writeFileSync(
      blocker,
      `const Module = require('node:module');
      const blocked = /^(esbuild|tsx|express)(\\/|$)/;
      const resolveFilename = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (blocked.test(request)) throw Object.assign(new Error("Cannot find module '" + request + "' (not in a production install)"), { code: 'MODULE_NOT_FOUND' });
        return resolveFilename.call(this, request, ...rest);
      };
      Module.register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`,
    );
  });

  interface Run {
    code: number;
    stdout: string;
    stderr: string;
  }

  /** `node scripts/start.mjs ...args` in the copy, as `npm run keys` etc. run it; `production` blocks the dev packages. */
  function run(args: string[], options: { production: boolean }): Promise<Run> {
    const nodeArgs = options.production ? ['--require', blocker, 'scripts/start.mjs', ...args] : ['scripts/start.mjs', ...args];
    return new Promise((resolve) => {
      execFile(process.execPath, nodeArgs, { cwd: project, env: gatewayEnv(dir), timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stdout, stderr });
      });
    });
  }

  const stamp = () => readFileSync(join(project, 'dist/build-stamp.json'), 'utf8');

  it('npm run build writes the three bundles with source maps and a stamp of their sources', async () => {
    const build = await new Promise<Run>((resolve) => {
      execFile(process.execPath, ['scripts/build.mjs'], { cwd: project }, (error, stdout, stderr) => {
        resolve({ code: error ? 1 : 0, stdout, stderr });
      });
    });
    expect(build).toEqual({ code: 0, stdout: '', stderr: '' });
    for (const name of ['main', 'simulator', 'keys']) {
      expect(existsSync(join(project, `dist/${name}.js`))).toBe(true);
      expect(readFileSync(join(project, `dist/${name}.js`), 'utf8')).toContain(`//# sourceMappingURL=${name}.js.map`);
    }
    expect(JSON.parse(stamp())).toMatchObject({ sourceHash: expect.stringMatching(/^[0-9a-f]{64}$/) as string });
  }, 60_000);

  it('starts the gateway from the bundle without esbuild, tsx or express', async () => {
    const before = stamp();
    const db = join(dir, 'production');
    mkdirSync(db);
    const child = spawn(process.execPath, ['--require', blocker, 'scripts/start.mjs'], { cwd: project, env: gatewayEnv(db), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    await expectServingDemoKey(await waitForOutput(child, /Gateway ready at (http:\S+)/));
    expect(stamp()).toBe(before);
  }, 60_000);

  it('runs the keys CLI and the simulator from their bundles without esbuild or tsx', async () => {
    const keys = await run(['keys', '--help'], { production: true });
    expect(keys).toMatchObject({ code: 0, stderr: '' });
    expect(keys.stdout).toMatch(/^Manage API keys/);

    const simulator = spawn(process.execPath, ['--require', blocker, 'scripts/start.mjs', 'simulator'], {
      cwd: project,
      env: { ...process.env, SIMULATOR_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(simulator);
    expect(await waitForOutput(simulator, /listening at http:\S+/)).toMatch(/^Kling simulator listening at http:\/\/127\.0\.0\.1:\d+\n/);
  }, 60_000);

  it('rebuilds a bundle whose sources changed before running it', async () => {
    const before = stamp();
    writeFileSync(keysEntry, `console.log('rebuilt from the changed source');\n${readFileSync(keysEntry, 'utf8')}`);
    const keys = await run(['keys', '--help'], { production: false });
    expect(keys).toMatchObject({ code: 0, stderr: '' });
    expect(keys.stdout).toMatch(/^rebuilt from the changed source\nManage API keys/);
    expect(stamp()).not.toBe(before);
    // Current again: the production run needs no esbuild.
    expect(await run(['keys', '--help'], { production: true })).toMatchObject({ code: 0, stdout: expect.stringMatching(/^rebuilt/) as string });
  }, 60_000);

  it('without esbuild, refuses a stale or missing bundle and says to run npm run build', async () => {
    writeFileSync(keysEntry, `// changed again\n${readFileSync(keysEntry, 'utf8')}`);
    const stale = await run(['keys', '--help'], { production: true });
    expect(stale).toMatchObject({ code: 1, stdout: '' });
    expect(stale.stderr).toContain('Cannot start: dist/ was built from other sources than src/, and esbuild is not installed');
    expect(stale.stderr).toContain('Run "npm run build"');

    rmSync(join(project, 'dist'), { recursive: true });
    const missing = await run([], { production: true });
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toContain('Cannot start: dist/ has no built bundle, and esbuild is not installed');
  }, 60_000);

  it('runs an install that ships dist/ without src/ as it is', async () => {
    expect((await run(['keys', '--help'], { production: false })).code).toBe(0);
    renameSync(join(project, 'src'), join(project, 'src-away'));
    try {
      const keys = await run(['keys', '--help'], { production: true });
      expect(keys).toMatchObject({ code: 0, stderr: '' });
      expect(keys.stdout).toMatch(/^Manage API keys/m);
    } finally {
      renameSync(join(project, 'src-away'), join(project, 'src'));
    }
  }, 60_000);
});

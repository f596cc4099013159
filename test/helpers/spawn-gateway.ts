// Runs the real entry point (`tsx src/main.ts`) as a child process in its own process group, for
// tests that kill a gateway outright (SIGKILL) or run several instances side by side.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SIMULATOR_KEY } from '../../src/kling/simulator/simulator.js';
import { onTeardown } from './leftovers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface SpawnedGateway {
  child: ChildProcess;
  url: string;
  demoKey: string | undefined;
  exited: Promise<void>;
  output: () => string;
  /** Kills the whole process group at once, as a crash or an OOM kill would. */
  kill(): Promise<void>;
}

/**
 * The environment of a spawned gateway that talks to the simulator at `simulatorUrl`: nothing from the
 * test process leaks in (no stray Kling keys, NODE_ENV or DATABASE_URL) but PATH and HOME.
 */
export function simulatorGatewayEnv(simulatorUrl: string, settings: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    NODE_ENV: 'test',
    PORT: '0',
    KLING_BASE_URL: simulatorUrl,
    KLING_ACCESS_KEY: DEFAULT_SIMULATOR_KEY.accessKey,
    KLING_SECRET_KEY: DEFAULT_SIMULATOR_KEY.secretKey,
    LOG_LEVEL: 'warn',
    ...settings,
  };
}

/** Spawns a gateway with exactly `env` and resolves once it prints its URL. */
export async function spawnGateway(env: Record<string, string>): Promise<SpawnedGateway> {
  const child = spawn(join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGKILL');
      await exited;
    }
  };
  onTeardown(kill);
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /Gateway ready at (http:\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`gateway exited (${code ?? signal}) before it was ready:\n${out}`)));
    child.once('error', reject);
  });
  return { child, url, demoKey: /Demo API key: (kgw_\S+)/.exec(out)?.[1], exited, output: () => out, kill };
}

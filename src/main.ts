// Entry point of `npm start`: config, the simulator switch, the gateway, signals. The only file that exits.
import { createGateway } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/env.js';
import { createKlingSimulator, DEFAULT_SIMULATOR_KEY } from './kling/simulator/simulator.js';
import { createLogger } from './logger.js';

const DEMO_KEY_CREDITS = 1_000;

async function main() {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.log.level });

  // The one switch: without Kling keys the gateway talks to a simulator of its own on a free loopback port.
  let simulator: ReturnType<typeof createKlingSimulator> | undefined;
  if (!config.kling.credentials) {
    simulator = createKlingSimulator({ host: '127.0.0.1', port: 0, taskSeconds: config.simulator.taskSeconds });
    const baseUrl = await simulator.start();
    config = { ...config, kling: { ...config.kling, baseUrl, credentials: { ...DEFAULT_SIMULATOR_KEY } } };
    logger.info({ baseUrl }, 'no Kling keys set: using the built-in Kling simulator');
  }

  const gateway = await createGateway(config, { logger });
  const url = await gateway.start();

  if (config.demoKey && gateway.database.fresh) {
    const { key } = await gateway.apiKeys.create('demo', DEMO_KEY_CREDITS);
    console.log(`Demo API key: ${key}`);
  }
  console.log(`Gateway ready at ${url.href}`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      await gateway.stop();
      await simulator?.stop();
      process.exit(0);
    })();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

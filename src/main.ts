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
  // JSON lines unless a developer is watching: pretty on a terminal in development, or when asked.
  const pretty = config.log.pretty ?? (config.env === 'development' && process.stdout.isTTY);
  const logger = createLogger({ level: config.log.level, pretty });

  // The one switch: without Kling keys the gateway talks to a simulator of its own on a free loopback port.
  let simulator: ReturnType<typeof createKlingSimulator> | undefined;
  if (!config.kling.credentials && config.production && !config.simulator.inProduction) {
    // The simulator's videos are fakes, yet keys are charged real credits for them: never by accident.
    console.error(
      'Refusing to start: NODE_ENV=production without KLING_ACCESS_KEY and KLING_SECRET_KEY would run the built-in Kling simulator; set the keys, or SIMULATOR_IN_PRODUCTION=true to run the simulator on purpose.',
    );
    process.exit(1);
  }
  if (!config.kling.credentials) {
    simulator = createKlingSimulator({
      host: '127.0.0.1',
      port: 0,
      taskSeconds: config.simulator.taskSeconds,
      // Signed as Kling would sign them, so a configured secret does not turn the simulator's callbacks away.
      webhookSecret: config.kling.webhookSecret,
    });
    const baseUrl = await simulator.start();
    config = { ...config, kling: { ...config.kling, baseUrl, credentials: { ...DEFAULT_SIMULATOR_KEY } } };
    logger.info({ baseUrl }, 'no Kling keys set: using the built-in Kling simulator');
  }

  const gateway = await createGateway(config, { logger });
  let url: URL;
  try {
    url = await gateway.start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw error;
    // The one thing a developer must do about it, not a stack: pick another address.
    const why = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges this process lacks' : 'is not an address of this machine';
    console.error(`Cannot listen on ${config.http.host}:${config.http.port}: the address ${why}. Set PORT (and HOST) to a free address.`);
    await gateway.stop().catch(() => undefined);
    await simulator?.stop();
    process.exit(1);
  }

  if (config.demoKey && gateway.database.fresh) {
    const { key } = await gateway.apiKeys.create('demo', DEMO_KEY_CREDITS);
    console.log(`Demo API key: ${key}`);
  }
  console.log(`Gateway ready at ${url.href}`);

  let stopping = false;
  const shutdown = (signal: string) => {
    // A terminal's Ctrl-C can reach this process twice (directly and relayed by npm); one shutdown is enough.
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdown.graceMs }, 'shutting down');
    // The grace period bounds the HTTP side; this bounds everything, should a dependency hang.
    const watchdog = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdown.graceMs + 10_000);
    watchdog.unref();
    void (async () => {
      try {
        await gateway.stop();
        await simulator?.stop();
      } catch (error) {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      }
      logger.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

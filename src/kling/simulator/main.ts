// `npm run simulator`: the Kling simulator on its own, for gateways started with
// KLING_BASE_URL=http://HOST:PORT and the simulator's key pair.
//
// Environment (all optional):
//   SIMULATOR_PORT                       port to listen on (0 = any free port)            default 4010
//   SIMULATOR_HOST                       address to bind                                   default 127.0.0.1
//   SIMULATOR_ACCESS_KEY / _SECRET_KEY   the one key pair whose JWTs are accepted          default sim-access-key / sim-secret-key
//   SIMULATOR_TASK_SECONDS               submit-to-result time per task, fractions allowed default 10
//   SIMULATOR_PUBLIC_URL                 base of video links when reached by another name  default the listening URL
//   SIMULATOR_CONCURRENCY_LIMIT          open tasks per model before 429/1303              default unlimited
//   SIMULATOR_BALANCE_UNITS              units available before 429/1102                   default unlimited
//   SIMULATOR_LOG                        1/true: log each request to stderr                default off
// Fault injection (seeded, so a run can be repeated):
//   SIMULATOR_SEED                       seed of the fault dice                            default 1
//   SIMULATOR_ERROR_RATES                CODE=RATE list, CODE in 5000|5001|5002|1302|1303,
//                                        e.g. "5000=0.02,5002=0.01"                        default none
//   SIMULATOR_LATENCY_MS                 extra delay per API request, "MS" or "MIN-MAX"    default none
//   SIMULATOR_DROP_AFTER_ACCEPT_RATE     creates stored but answered by a dropped socket   default 0
//   SIMULATOR_TIMEOUT_AFTER_ACCEPT_RATE  creates stored but answered 504/5002              default 0
//   SIMULATOR_FAIL_RATE                  tasks that end failed                             default 0
//   SIMULATOR_SLOW_TASK_RATE             tasks that stay processing for SLOW_TASK_SECONDS  default 0
//   SIMULATOR_SLOW_TASK_SECONDS          duration of a slow task                           default 600
import { createKlingSimulator } from './simulator.js';
import { loadSimulatorConfig, SimulatorConfigError } from './simulator-env.js';

async function main(): Promise<void> {
  const config = loadSimulatorConfig(process.env);
  const simulator = createKlingSimulator({
    ...config.options,
    host: config.host,
    port: config.port,
    log: config.logRequests ? (message) => { console.error(message); } : undefined,
  });
  const url = await simulator.start();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  console.log(`Kling simulator listening at http://${host}:${new URL(url).port}`);

  const shutdown = (): void => {
    simulator.stop().catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(error instanceof SimulatorConfigError ? error.message : error);
  process.exit(1);
});

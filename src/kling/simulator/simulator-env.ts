// Settings of `npm run simulator`, read from environment variables (documented in main.ts).
// Pure, so tests call it with a literal object; main.ts is the only caller that passes process.env.
import { z } from 'zod';
import { FAULT_CODES, type FaultCode, type KlingSimulatorFaults } from './faults.js';
import { DEFAULT_SIMULATOR_KEY, type KlingSimulatorOptions } from './simulator.js';

export class SimulatorConfigError extends Error {
  override readonly name = 'SimulatorConfigError';
}

export interface SimulatorConfig {
  host: string;
  port: number;
  /** Log each request to stderr. */
  logRequests: boolean;
  options: Omit<KlingSimulatorOptions, 'host' | 'port' | 'log'>;
}

const rate = z.coerce.number().min(0).max(1);
const count = z.coerce.number().int().min(1);

function parseErrorRates(text: string, context: z.RefinementCtx): Partial<Record<FaultCode, number>> {
  const rates: Partial<Record<FaultCode, number>> = {};
  let sum = 0;
  for (const entry of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^(\d+)[=:]([\d.]+)$/.exec(entry);
    const code = Number(match?.[1]);
    const value = Number(match?.[2]);
    if (!FAULT_CODES.includes(code as FaultCode) || !(value >= 0 && value <= 1)) {
      context.addIssue({ code: 'custom', message: `"${entry}" is not CODE=RATE with CODE in ${FAULT_CODES.join('|')} and RATE in 0..1` });
      return rates;
    }
    rates[code as FaultCode] = value;
    sum += value;
  }
  if (sum > 1) context.addIssue({ code: 'custom', message: 'the rates must add up to at most 1' });
  return rates;
}

const envSchema = z
  .object({
    SIMULATOR_PORT: z.coerce.number().int().min(0).max(65_535).default(4010),
    SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
    SIMULATOR_ACCESS_KEY: z.string().min(1).default(DEFAULT_SIMULATOR_KEY.accessKey),
    SIMULATOR_SECRET_KEY: z.string().min(1).default(DEFAULT_SIMULATOR_KEY.secretKey),
    SIMULATOR_TASK_SECONDS: z.coerce.number().min(0).default(10),
    SIMULATOR_PUBLIC_URL: z.url().optional(),
    SIMULATOR_SEED: z.coerce.number().int().optional(),
    SIMULATOR_ERROR_RATES: z.string().transform(parseErrorRates).optional(),
    SIMULATOR_LATENCY_MS: z
      .string()
      .regex(/^\d+(-\d+)?$/, 'must be MS or MIN-MAX, e.g. 50-300')
      .transform((text) => {
        const [min = 0, max = min] = text.split('-').map(Number);
        return { min, max };
      })
      .refine((range) => range.min <= range.max, 'MIN must not exceed MAX')
      .optional(),
    SIMULATOR_DROP_AFTER_ACCEPT_RATE: rate.optional(),
    SIMULATOR_TIMEOUT_AFTER_ACCEPT_RATE: rate.optional(),
    SIMULATOR_FAIL_RATE: rate.optional(),
    SIMULATOR_SLOW_TASK_RATE: rate.optional(),
    SIMULATOR_SLOW_TASK_SECONDS: z.coerce.number().positive().optional(),
    SIMULATOR_CONCURRENCY_LIMIT: count.optional(),
    SIMULATOR_BALANCE_UNITS: z.coerce.number().min(0).optional(),
    SIMULATOR_LOG: z.enum(['0', '1', 'false', 'true']).optional(),
  })
  .refine((env) => (env.SIMULATOR_DROP_AFTER_ACCEPT_RATE ?? 0) + (env.SIMULATOR_TIMEOUT_AFTER_ACCEPT_RATE ?? 0) <= 1, {
    message: 'must add up to at most 1 with SIMULATOR_TIMEOUT_AFTER_ACCEPT_RATE',
    path: ['SIMULATOR_DROP_AFTER_ACCEPT_RATE'],
  });

/** Reads the simulator's settings; throws SimulatorConfigError naming every bad variable. */
export function loadSimulatorConfig(env: Readonly<Record<string, string | undefined>>): SimulatorConfig {
  // An empty variable means "not set", as shells and .env files often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([name, value]) => name.startsWith('SIMULATOR_') && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new SimulatorConfigError(`Invalid simulator configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const faults: KlingSimulatorFaults = {};
  if (e.SIMULATOR_ERROR_RATES !== undefined) faults.errorRates = e.SIMULATOR_ERROR_RATES;
  if (e.SIMULATOR_LATENCY_MS !== undefined) faults.latencyMs = e.SIMULATOR_LATENCY_MS;
  if (e.SIMULATOR_DROP_AFTER_ACCEPT_RATE !== undefined) faults.dropAfterAcceptRate = e.SIMULATOR_DROP_AFTER_ACCEPT_RATE;
  if (e.SIMULATOR_TIMEOUT_AFTER_ACCEPT_RATE !== undefined) faults.timeoutAfterAcceptRate = e.SIMULATOR_TIMEOUT_AFTER_ACCEPT_RATE;
  if (e.SIMULATOR_FAIL_RATE !== undefined) faults.failRate = e.SIMULATOR_FAIL_RATE;
  if (e.SIMULATOR_SLOW_TASK_RATE !== undefined) faults.slowTaskRate = e.SIMULATOR_SLOW_TASK_RATE;
  if (e.SIMULATOR_SLOW_TASK_SECONDS !== undefined) faults.slowTaskSeconds = e.SIMULATOR_SLOW_TASK_SECONDS;

  const options: SimulatorConfig['options'] = {
    keys: [{ accessKey: e.SIMULATOR_ACCESS_KEY, secretKey: e.SIMULATOR_SECRET_KEY }],
    taskSeconds: e.SIMULATOR_TASK_SECONDS,
    faults,
  };
  if (e.SIMULATOR_PUBLIC_URL !== undefined) options.publicUrl = e.SIMULATOR_PUBLIC_URL.replace(/\/+$/, '');
  if (e.SIMULATOR_SEED !== undefined) options.seed = e.SIMULATOR_SEED;
  if (e.SIMULATOR_CONCURRENCY_LIMIT !== undefined) options.concurrencyLimit = e.SIMULATOR_CONCURRENCY_LIMIT;
  if (e.SIMULATOR_BALANCE_UNITS !== undefined) options.balanceUnits = e.SIMULATOR_BALANCE_UNITS;
  return {
    host: e.SIMULATOR_HOST,
    port: e.SIMULATOR_PORT,
    logRequests: e.SIMULATOR_LOG === '1' || e.SIMULATOR_LOG === 'true',
    options,
  };
}

// Seeded fault injection (kling-api.md sections 12.8 and 12.12). Each request rolls the same dice in
// the same order whatever is switched on, so one seed gives one sequence of outcomes, and turning a
// fault on or off does not shift the dice of the others.
import { z } from 'zod';
import { createSeededRandom, type Random } from './seeded-random.js';

/** Codes a fault can answer any API request with. */
export const FAULT_CODES = [5000, 5001, 5002, 1302, 1303] as const;
export type FaultCode = (typeof FAULT_CODES)[number];

export interface KlingSimulatorFaults {
  /**
   * Share (0..1) of API requests answered with each code before they are handled; nothing is
   * stored. The rates together must not exceed 1.
   * @default {}
   */
  errorRates?: Partial<Record<FaultCode, number>>;
  /** Extra real-time delay before each API request is handled, drawn uniformly, in ms. @default none */
  latencyMs?: { min: number; max: number };
  /** Share (0..1) of creates that are stored, then answered by destroying the connection. @default 0 */
  dropAfterAcceptRate?: number;
  /** Share (0..1) of creates that are stored, then answered 504/5002 (kling-api.md 12.12). @default 0 */
  timeoutAfterAcceptRate?: number;
  /** Share (0..1) of tasks that end `failed` with a generation error. @default 0 */
  failRate?: number;
  /** Share (0..1) of tasks that stay `processing` for `slowTaskSeconds`. @default 0 */
  slowTaskRate?: number;
  /** How long a slow task takes from submit to its end, in seconds. @default 600 */
  slowTaskSeconds?: number;
}

const rate = z.number().min(0).max(1);

const faultsSchema = z
  .object({
    errorRates: z.partialRecord(z.enum(FAULT_CODES.map(String) as [string, ...string[]]), rate).optional(),
    latencyMs: z
      .object({ min: z.number().min(0), max: z.number().min(0) })
      .refine((range) => range.min <= range.max, 'latencyMs.min must not exceed latencyMs.max')
      .optional(),
    dropAfterAcceptRate: rate.optional(),
    timeoutAfterAcceptRate: rate.optional(),
    failRate: rate.optional(),
    slowTaskRate: rate.optional(),
    slowTaskSeconds: z.number().positive().optional(),
  })
  .strict()
  .refine((faults) => Object.values(faults.errorRates ?? {}).reduce((sum: number, value) => sum + (value ?? 0), 0) <= 1, {
    message: 'errorRates must add up to at most 1',
    path: ['errorRates'],
  })
  .refine((faults) => (faults.dropAfterAcceptRate ?? 0) + (faults.timeoutAfterAcceptRate ?? 0) <= 1, {
    message: 'dropAfterAcceptRate and timeoutAfterAcceptRate must add up to at most 1',
    path: ['dropAfterAcceptRate'],
  });

/** Throws a TypeError naming the offending field when `faults` is not usable. */
export function checkFaults(faults: KlingSimulatorFaults): void {
  const result = faultsSchema.safeParse(faults);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || 'faults'}: ${issue.message}`);
    throw new TypeError(`Invalid simulator faults: ${issues.join('; ')}`);
  }
}

export interface RequestDice {
  latencyMs: number;
  errorCode: FaultCode | undefined;
}

export interface CreateDice {
  afterAccept: 'answer' | 'drop' | 'timeout';
  fail: boolean;
  slowMs: number | undefined;
}

const DEFAULT_SLOW_TASK_SECONDS = 600;

export function createFaultInjector(seed: number, initial: KlingSimulatorFaults = {}) {
  checkFaults(initial);
  let faults = initial;
  const random: Random = createSeededRandom(seed);

  return {
    get faults(): KlingSimulatorFaults {
      return faults;
    },
    set(next: KlingSimulatorFaults): void {
      checkFaults(next);
      faults = next;
    },
    /** Two draws per API request: latency, then error. */
    request(): RequestDice {
      const latencyDraw = random();
      const errorDraw = random();
      const latency = faults.latencyMs;
      const latencyMs = latency === undefined ? 0 : latency.min + latencyDraw * (latency.max - latency.min);
      let cumulative = 0;
      let errorCode: FaultCode | undefined;
      for (const code of FAULT_CODES) {
        cumulative += faults.errorRates?.[code] ?? 0;
        if (errorDraw < cumulative) {
          errorCode = code;
          break;
        }
      }
      return { latencyMs, errorCode };
    },
    /** Three more draws per create: what happens after acceptance, failure, slowness. */
    create(): CreateDice {
      const acceptDraw = random();
      const failDraw = random();
      const slowDraw = random();
      const drop = faults.dropAfterAcceptRate ?? 0;
      const timeout = faults.timeoutAfterAcceptRate ?? 0;
      const afterAccept = acceptDraw < drop ? 'drop' : acceptDraw < drop + timeout ? 'timeout' : 'answer';
      const slow = slowDraw < (faults.slowTaskRate ?? 0);
      return {
        afterAccept,
        fail: failDraw < (faults.failRate ?? 0),
        slowMs: slow ? (faults.slowTaskSeconds ?? DEFAULT_SLOW_TASK_SECONDS) * 1000 : undefined,
      };
    },
  };
}

export type FaultInjector = ReturnType<typeof createFaultInjector>;

// README.md shows tables rendered from the code; this fails when they drift.
// Fix: npx tsx scripts/docs-tables.ts
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_VARIABLES,
  formatDurations,
  README_SECTIONS,
  readmeSection,
  renderPriceTable,
  replaceReadmeSection,
  type ReadmeSection,
} from '../../src/catalog/docs.js';
import { loadConfig } from '../../src/config/env.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const sourceOf = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** Keys of the zod object in a config module: lines of the form `    NAME: …`. */
const envNamesIn = (source: string, prefix = '') =>
  [...source.matchAll(/^\s{4}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1] ?? '').filter((name) => name.startsWith(prefix));

describe('README.md', () => {
  it.each(Object.keys(README_SECTIONS) as ReadmeSection[])('holds the current %s table (else run: npx tsx scripts/docs-tables.ts)', (name) => {
    expect(readmeSection(readme, name)).toBe(README_SECTIONS[name]());
  });

  it('documents every simulator variable that simulator-env.ts reads', () => {
    const names = envNamesIn(sourceOf('src/kling/simulator/simulator-env.ts'), 'SIMULATOR_');
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(readme).toContain(`\`${name}\``);
  });

  it('gives the two commands of the quick start', () => {
    expect(readme).toContain('```sh\nnpm ci && npm start\n```');
    expect(readme).toContain('```sh\nnpm test\n```');
  });
});

describe('the configuration table', () => {
  it('lists exactly the variables env.ts reads (else edit CONFIG_VARIABLES in src/catalog/docs.ts)', () => {
    const documented = CONFIG_VARIABLES.flatMap((v) => v.names);
    expect([...documented].sort()).toEqual(envNamesIn(sourceOf('src/config/env.ts')).sort());
  });

  // Setting a variable to its documented default must change nothing, which pins every literal default.
  const literalDefaults = CONFIG_VARIABLES.flatMap((v) => {
    const literal = /^`([^`]+)`/.exec(v.default)?.[1];
    return literal === undefined ? [] : v.names.map((name) => [name, literal] as const);
  });
  it.each(literalDefaults)('documents the real default of %s (%s)', (name, literal) => {
    expect(loadConfig({ [name]: literal })).toEqual(loadConfig({}));
  });

  it('pins at least the defaults the contract names', () => {
    expect(literalDefaults.map(([name]) => name)).toEqual(
      expect.arrayContaining(['PORT', 'HOST', 'DATABASE_URL', 'SIMULATOR_PORT', 'SIMULATOR_TASK_SECONDS', 'NODE_ENV']),
    );
  });
});

describe('table rendering', () => {
  it.each([
    [[5, 10], '5, 10'],
    [[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], '3–15'],
    [[5], '5'],
    [[1, 2, 5, 6, 7], '1, 2, 5–7'],
  ])('writes durations %j as "%s"', (seconds, text) => {
    expect(formatDurations(seconds)).toBe(text);
  });

  it("shows the contract's KLING_V1 prices", () => {
    const table = renderPriceTable();
    expect(table).toContain('| `KLING_V1` | `STANDARD` | 10 | 20 | 2 |');
    expect(table).toContain('| `KLING_V1` | `PROFESSIONAL` | 35 | 70 | 7 |');
  });

  it('replaces only the text between markers and refuses a README without them', () => {
    const text = 'intro\n<!-- BEGIN prices -->\nold\n<!-- END prices -->\noutro\n';
    const replaced = replaceReadmeSection(text, 'prices', 'new');
    expect(replaced).toBe('intro\n<!-- BEGIN prices -->\nnew\n<!-- END prices -->\noutro\n');
    expect(replaceReadmeSection(replaced, 'prices', 'new')).toBe(replaced);
    expect(() => replaceReadmeSection('no markers', 'prices', 'x')).toThrow('README.md has no');
  });
});

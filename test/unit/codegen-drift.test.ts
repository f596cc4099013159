// schema.graphql, test/generated and src/generated (the possible-types map for Apollo's cache) are
// committed; this fails when they no longer match what `npm run codegen` would write (a schema or test
// operation changed without regenerating).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('generated files', () => {
  it('match what npm run codegen writes', async () => {
    const outputs = (await generate({ ...config, cwd: root, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.map((o) => o.filename)).toEqual(expect.arrayContaining(['schema.graphql', 'test/generated/graphql.ts', 'src/generated/possible-types.ts', 'src/generated/possible-types.json']));
    for (const output of outputs) {
      const committed = readFileSync(new URL(output.filename, `file://${root}/`), 'utf8');
      expect(committed, `${output.filename} is stale: run npm run codegen`).toBe(output.content);
    }
  }, 60_000);
});

// `npx tsx scripts/docs-tables.ts`: rewrites the generated tables in README.md from the capability,
// price and configuration tables. test/unit/readme-tables.test.ts fails until this has been run.
import { readFileSync, writeFileSync } from 'node:fs';
import { README_SECTIONS, readmeSection, replaceReadmeSection, type ReadmeSection } from '../src/catalog/docs.js';

const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
let after = before;
const changed: ReadmeSection[] = [];
for (const [name, render] of Object.entries(README_SECTIONS) as [ReadmeSection, () => string][]) {
  const body = render();
  if (readmeSection(after, name) !== body) changed.push(name);
  after = replaceReadmeSection(after, name, body);
}
if (after !== before) writeFileSync(path, after);
console.log(changed.length === 0 ? 'README.md tables are up to date.' : `README.md: rewrote ${changed.join(', ')}.`);

// Debian's Chromium, driven by playwright-core, for the browser tests. Its absence skips them with a
// loud line (.ci/run installs it), never silently.
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Whether Chromium is installed; warns, naming `what` is skipped, when it is not. */
export function chromiumAvailable(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.warn(
    `!!! ${CHROMIUM} is missing: ${what} is SKIPPED. ` + 'Install it with: apt-get update && apt-get install -y chromium  (.ci/run does this) !!!',
  );
  return false;
}

// Production's scrubbing of error messages: "Did you mean …?" hints hidden and echoed input values
// cut short, in time linear in the message, whatever a client put in it.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { scrubErrorMessage } from '../../src/server/use-operation-limits.js';

/** graphql-js's message for a bad enum value in a variable, which echoes the value twice. */
const enumMessage = (value: string) =>
  `Variable "$input" got invalid value ${JSON.stringify(value)} at "input.model"; Value ${JSON.stringify(value)} does not exist in "VideoModel" enum.`;

describe('scrubErrorMessage', () => {
  it.each([
    ['Cannot query field "mee" on type "Query". Did you mean "me"?', 'Cannot query field "mee" on type "Query". [Suggestion hidden]'],
    [
      'Value "KLING_V9" does not exist in "VideoModel" enum. Did you mean the enum value "KLING_V1", or "KLING_V3"?',
      'Value "KLING_V9" does not exist in "VideoModel" enum. [Suggestion hidden]',
    ],
    ['Did you mean "a"? and Did you mean "b"? end', '[Suggestion hidden] and [Suggestion hidden] end'],
    ['No hint here.', 'No hint here.'],
    ['Did you mean nothing, with no question mark', 'Did you mean nothing, with no question mark'],
    ['Did you mean "a"? Did you mean', '[Suggestion hidden] Did you mean'],
  ])('hides the hints of %j', (message, scrubbed) => {
    expect(scrubErrorMessage(message)).toBe(scrubbed);
  });

  it('cuts a long echoed value to a few hundred characters and keeps the rest of the message', () => {
    const value = 'x'.repeat(60_000);
    const scrubbed = scrubErrorMessage(enumMessage(value));
    expect(scrubbed.length).toBeLessThan(1_000);
    expect(scrubbed).toMatch(/^Variable "\$input" got invalid value "x{100,400}… \(60000 characters\)" at "input\.model"; Value "x+… \(60000 characters\)" does not exist in "VideoModel" enum\.$/);
    // Short values, and quotes escaped inside them, pass unchanged.
    expect(scrubErrorMessage(enumMessage('KLING_"V9"'))).toBe(enumMessage('KLING_"V9"'));
  });

  it('cuts a message still long after that, such as one echoing an unquoted object key, hints hidden first', () => {
    const key = 'k'.repeat(10_000);
    const message = `Variable "$input" got invalid value { ${key}: 1 }; Field "${key}" is not defined by type "GenerateVideoInput". Did you mean "prompt"?`;
    const scrubbed = scrubErrorMessage(message);
    expect(scrubbed.length).toBeLessThan(2_100);
    expect(scrubbed).toMatch(/^Variable "\$input" got invalid value \{ k+… \(\d+ characters\)$/);
    // An unterminated quote is cut like any long value, and no part of a hint survives either way.
    expect(scrubErrorMessage(`Value "${'v'.repeat(300)} Did you mean "KLING_V1"?`)).toBe(`Value "${'v'.repeat(200)}… (320 characters)`);
  });

  it('takes time linear in the message, also for 64 KB of "Did you mean " with no "?"', () => {
    const crafted = (bytes: number) => 'Did you mean '.repeat(Math.ceil(bytes / 13)).slice(0, bytes);
    const inputs = { bare: crafted, echoed: (bytes: number) => enumMessage(crafted(bytes / 2)) };
    for (const [kind, make] of Object.entries(inputs)) {
      const small = make(1_024);
      const large = make(64 * 1_024);
      /** Median of 7 runs of `times` scrubs each, in ms. */
      const time = (message: string, times: number) => {
        const runs: number[] = [];
        for (let run = 0; run < 7; run++) {
          const started = performance.now();
          for (let i = 0; i < times; i++) scrubErrorMessage(message);
          runs.push(performance.now() - started);
        }
        return runs.sort((a, b) => a - b)[3] ?? 0;
      };
      time(small, 64);
      time(large, 1);
      // The same number of bytes either way: 64 scrubs of 1 KB against one scrub of 64 KB. Linear
      // time gives a ratio near 1; the old regex gave about 64 (quadratic).
      const smallMs = time(small, 64);
      const largeMs = time(large, 1);
      console.info(`${kind}: 64 × 1 KB ${smallMs.toFixed(2)} ms, 1 × 64 KB ${largeMs.toFixed(2)} ms`);
      expect(largeMs).toBeLessThanOrEqual(8 * Math.max(smallMs, 0.05));
    }
  });
});

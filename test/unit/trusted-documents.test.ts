import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { createTrustedDocuments } from '../../src/server/trusted-documents.js';

const idFor = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

describe('trusted documents file', () => {
  it('finds a document by its sha256: id and by the bare hex Apollo sends', () => {
    const text = 'query Me { me { name } }';
    const documents = createTrustedDocuments({ [idFor(text)]: text }, schema);
    expect(documents.size).toBe(1);
    expect(documents.text(idFor(text))).toBe(text);
    expect(documents.text(idFor(text).slice('sha256:'.length))).toBe(text);
    expect(documents.lookup(idFor('query Other { me { name } }'))).toBeNull();
  });

  it('lists every bad entry at once: id form, hash, syntax and schema', () => {
    const valid = 'query Me { me { name } }';
    const broken = 'query {';
    const unknownField = 'query { nope }';
    let message = '';
    try {
      createTrustedDocuments(
        {
          'md5:abc': valid,
          [idFor('something else')]: valid,
          [idFor(broken)]: broken,
          [idFor(unknownField)]: unknownField,
          [idFor('query N { me { name } }')]: 42,
        },
        schema,
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('md5:abc: the id must be "sha256:"');
    expect(message).toContain('the id is not the SHA-256 of its operation text');
    expect(message).toContain('Syntax Error');
    expect(message).toContain('Cannot query field "nope"');
    expect(message).toContain('the operation must be a string');
  });

  it('refuses a file that is not a map', () => {
    expect(() => createTrustedDocuments(['query { me { name } }'], schema)).toThrow(/expected a JSON object/);
  });
});

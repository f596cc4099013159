import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { bearerToken } from '../../src/server/caller.js';
import { rootFieldNames } from '../../src/server/operation-shape.js';

describe('bearerToken', () => {
  it.each<[string, unknown, string | null]>([
    ['the canonical form', 'Bearer abc.def-123', 'abc.def-123'],
    ['a lower-case scheme', 'bearer abc', 'abc'],
    ['an upper-case scheme', 'BEARER abc', 'abc'],
    ['extra spaces around and inside', '   Bearer    abc   ', 'abc'],
    ['a tab as separator', 'Bearer\tabc', 'abc'],
    ['another scheme', 'Basic abc', null],
    ['the scheme alone', 'Bearer', null],
    ['the scheme and a space', 'Bearer ', null],
    ['a scheme glued to the token', 'Bearerabc', null],
    ['two tokens', 'Bearer abc def', null],
    ['a bare token', 'abc', null],
    ['an empty header', '', null],
    ['a missing header', undefined, null],
    ['null', null, null],
    ['a header given as an array', ['Bearer abc'], null],
  ])('%s: %j -> %j', (_name, header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});

const names = (source: string, operationName?: string | null) => [...rootFieldNames(parse(source), operationName)].sort();

describe('rootFieldNames', () => {
  it.each<[string, string, string | null, string[]]>([
    ['plain root fields', '{ models { model } me { name } }', null, ['me', 'models']],
    ['the field name, not its alias', '{ models: me { name } }', null, ['me']],
    ['only root fields, not nested ones', '{ videoTasks { edges { node { id } } } }', null, ['videoTasks']],
    [
      'fields inside a named fragment',
      'query { ...Root } fragment Root on Query { me { name } models { model } }',
      null,
      ['me', 'models'],
    ],
    [
      'fields inside a fragment spread by a fragment',
      'query { ...A } fragment A on Query { models { model } ...B } fragment B on Query { me { name } }',
      null,
      ['me', 'models'],
    ],
    ['fields inside an inline fragment', '{ models { model } ... on Query { me { name } } }', null, ['me', 'models']],
    ['fields inside an inline fragment without a type', '{ ... @include(if: true) { me { name } } }', null, ['me']],
    [
      'a named fragment inside an inline fragment',
      '{ ... on Query { ...F } } fragment F on Query { videoTask(id: "1") { id } }',
      null,
      ['videoTask'],
    ],
    ['a fragment that spreads itself without looping', '{ ...F } fragment F on Query { ...F me { name } }', null, ['me']],
    ['introspection fields', '{ __schema { types { name } } __type(name: "Query") { name } __typename }', null, ['__schema', '__type', '__typename']],
    ['the fields of a mutation', 'mutation { generateVideo(input: { prompt: "x" }) { __typename } }', null, ['generateVideo']],
    ['the fields of a subscription', 'subscription { taskUpdated(id: "1") { id } }', null, ['taskUpdated']],
    [
      'the named operation among several',
      'query Public { models { model } } query Private { me { name } } mutation Make { cancelVideoTask(id: "1") { __typename } }',
      'Private',
      ['me'],
    ],
    [
      'another named operation among several',
      'query Public { models { model } } query Private { me { name } } mutation Make { cancelVideoTask(id: "1") { __typename } }',
      'Make',
      ['cancelVideoTask'],
    ],
    [
      'the first operation when no name is given',
      'query Public { models { model } } query Private { me { name } }',
      null,
      ['models'],
    ],
    [
      'the fragments of the chosen operation only',
      'query A { ...FA } query B { ...FB } fragment FA on Query { models { model } } fragment FB on Query { me { name } }',
      'B',
      ['me'],
    ],
  ])('collects %s', (_name, source, operationName, expected) => {
    expect(names(source, operationName)).toEqual(expected);
  });
});

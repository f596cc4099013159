// `npm run codegen`: writes schema.graphql (sorted, committed) from the Pothos schema, and typed
// documents for the operations the tests send (test/generated, committed). CI fails when either is stale.
import type { CodegenConfig } from '@graphql-codegen/cli';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './src/schema/index.js';

const sdl = printSchema(lexicographicSortSchema(schema));

const config: CodegenConfig = {
  schema: sdl,
  documents: ['test/**/*.ts', '!test/generated/**'],
  // Only graphql(`…`) calls are operations to type; /* GraphQL */ strings in tests are often malformed on purpose.
  pluckConfig: { globalGqlIdentifierName: ['graphql'], gqlMagicComment: 'typed-operation' },
  ignoreNoDocuments: true,
  // ESM: generated imports end in .js, as ours do.
  importExtension: '.js',
  generates: {
    'schema.graphql': { plugins: ['schema-ast'], config: { includeDirectives: false, sort: true } },
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } },
    },
  },
};

export default config;

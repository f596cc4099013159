// Writes schema.graphql from the Pothos schema (sorted), the committed source of truth for clients.
import { writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../src/schema/index.js';

writeFileSync(new URL('../schema.graphql', import.meta.url), printSchema(lexicographicSortSchema(schema)) + '\n');

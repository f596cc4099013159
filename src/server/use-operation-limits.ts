// Limits on the shape of an operation (GraphQL Armor): depth, cost, aliases, tokens, directives.
// Introspection is exempt from depth and cost so GraphiQL and codegen keep working.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { Config } from '../config/env.js';

export function useOperationLimits(limits: Config['limits'], production: boolean) {
  return EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true },
    costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true },
    maxAliases: { n: limits.maxAliases },
    maxTokens: { n: limits.maxTokens },
    maxDirectives: { n: limits.maxDirectives },
    // "Did you mean …?" hints map the schema for an attacker when introspection is off.
    blockFieldSuggestion: { enabled: production },
  });
}

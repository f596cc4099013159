// Account (the calling key), the `me` query, and the operator's key-management mutations.
import { z } from 'zod';
import type { Account } from '../auth/api-keys.js';
import { USAGE_GROUPINGS, type UsageBucket } from '../credits/usage.js';
import { NotFoundError } from '../errors.js';
import { builder } from './builder.js';

const UsageGroupingEnum = builder.enumType('UsageGrouping', { values: USAGE_GROUPINGS });

const UsageBucketRef = builder.objectRef<UsageBucket>('UsageBucket').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: '`YYYY-MM-DD` (UTC) when grouped by DAY, the model when grouped by MODEL.' }),
    tasks: t.exposeInt('tasks'),
    secondsGenerated: t.exposeInt('secondsGenerated'),
    creditsCharged: t.exposeInt('creditsCharged'),
  }),
});

export const AccountRef = builder.objectRef<Account>('Account').implement({
  description: 'An API key and its credits.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    creditBalance: t.exposeInt('creditBalance', { description: 'What can still be held for new tasks.' }),
    creditsHeld: t.exposeInt('creditsHeld', { description: 'Held for tasks that have not finished yet.' }),
    creditsUsed: t.exposeInt('creditsUsed', { description: 'The sum of settled charges.' }),
    keyPrefix: t.exposeString('keyPrefix', { description: 'The first characters of the key, to tell keys apart.' }),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => new Date(a.createdAt) }),
    revoked: t.boolean({ resolve: (a) => a.revokedAt !== null }),
    usage: t.field({
      type: [UsageBucketRef],
      description: 'What this key was charged in [from, to), per UTC day or per model, from the ledger.',
      args: {
        from: t.arg({ type: 'DateTime', required: true }),
        to: t.arg({ type: 'DateTime', required: true }),
        groupBy: t.arg({ type: UsageGroupingEnum, required: true, defaultValue: 'DAY' }),
      },
      resolve: (account, args, ctx) => ctx.services.usage.report(account.id, args.from, args.to, args.groupBy),
    }),
  }),
});

builder.queryField('me', (t) =>
  t.withAuth({ apiKey: true }).field({
    type: AccountRef,
    description: 'The calling key.',
    resolve: async (_root, _args, ctx) => {
      const account = await ctx.services.apiKeys.account(ctx.apiKeyId);
      // Authentication just found this key, so only a concurrent deletion could get here.
      if (!account) throw new NotFoundError('This key no longer exists.');
      return account;
    },
  }),
);

const CreatedApiKey = builder.objectRef<{ key: string; webhookSecret: string; account: Account }>('CreatedApiKey').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The key itself. Shown this once; only its hash is stored.' }),
    webhookSecret: t.exposeString('webhookSecret', {
      description:
        "The key's webhook signing secret (`whsec_…`), shown this once: receivers verify its webhooks with it (Standard Webhooks). The key's owner can replace it with `rotateWebhookSecret`.",
    }),
    account: t.field({ type: AccountRef, resolve: (c) => c.account }),
  }),
});

const credits = z.number().int().min(0).max(1_000_000_000);

builder.mutationField('createApiKey', (t) =>
  t.withAuth({ admin: true }).field({
    type: CreatedApiKey,
    description: 'Needs the ADMIN_TOKEN as bearer.',
    args: {
      name: t.arg.string({ required: true, validate: z.string().trim().min(1).max(100) }),
      credits: t.arg.int({ required: true, validate: credits }),
    },
    resolve: (_root, args, ctx) => ctx.services.apiKeys.create(args.name, args.credits),
  }),
);

const RotateWebhookSecretResult = builder.objectRef<{ webhookSecret: string }>('RotateWebhookSecretResult').implement({
  fields: (t) => ({
    webhookSecret: t.exposeString('webhookSecret', {
      description: 'The new signing secret, shown this once. Every delivery from now on, retries included, is signed with it alone.',
    }),
  }),
});

builder.mutationField('rotateWebhookSecret', (t) =>
  t.withAuth({ apiKey: true }).field({
    type: RotateWebhookSecretResult,
    description: "Replaces the calling key's webhook signing secret and returns the new one, once. The old one stops verifying at once.",
    resolve: async (_root, _args, ctx) => {
      const webhookSecret = await ctx.services.apiKeys.rotateWebhookSecret(ctx.apiKeyId);
      // Authentication just found this key, so only a concurrent revocation could get here.
      if (webhookSecret === null) throw new NotFoundError('This key no longer exists.');
      return { webhookSecret };
    },
  }),
);

builder.mutationField('grantCredits', (t) =>
  t.withAuth({ admin: true }).field({
    type: AccountRef,
    description: 'Adds credits to a key. Needs the ADMIN_TOKEN as bearer.',
    args: {
      id: t.arg.id({ required: true }),
      credits: t.arg.int({ required: true, validate: credits.min(1) }),
    },
    resolve: async (_root, args, ctx) => {
      const account = await ctx.services.apiKeys.grant(args.id, args.credits);
      if (!account) throw new NotFoundError(`No key ${args.id}.`);
      return account;
    },
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.withAuth({ admin: true }).field({
    type: AccountRef,
    description: 'Revokes a key at once. Needs the ADMIN_TOKEN as bearer.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = args.id;
      const account = (await ctx.services.apiKeys.revoke(id)) ?? (await ctx.services.apiKeys.account(id));
      if (!account) throw new NotFoundError(`No key ${id}.`);
      return account;
    },
  }),
);

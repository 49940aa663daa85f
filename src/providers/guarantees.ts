import { z } from 'zod';

const isolation = z.enum(['per-grant', 'shared']);

/** The full promise an adapter's provider must make; checked on providers loaded from modules. */
export const guaranteesSchema = z.strictObject({
  enforcesExpiry: z.boolean(),
  endsOpenSessions: z.boolean(),
  isolation,
});

/**
 * For adapters that bridge to systems Hallpass cannot see (webhook, command): the config says what
 * the other side promises. Nothing is assumed: no expiry enforcement, no session ending, shared.
 */
export const declaredGuarantees = z
  .strictObject({
    enforcesExpiry: z.boolean().default(false),
    endsOpenSessions: z.boolean().default(false),
    isolation: isolation.default('shared'),
  })
  .default({ enforcesExpiry: false, endsOpenSessions: false, isolation: 'shared' });

import { userInfo } from 'node:os';
import { Core } from '../core';
import { StaticDirectory } from '../core/directory';
import { parseCommand } from './args';
import { cliPlaces } from './places';
import {
  BOT_TAKES_IT_AWAY,
  CliError,
  cliConfig,
  EXIT,
  withAudit,
  withStore,
  write,
  type CliIo,
} from './context';

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

/** `hallpass grants list`: newest first, filtered, as a table. */
export async function grantsList(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'grants list',
    args,
    {
      active: { type: 'boolean' },
      user: { type: 'string', multiple: true },
      resource: { type: 'string', multiple: true },
      limit: { type: 'string' },
    },
    { min: 0, max: 0, names: '' },
  );
  const limit = Number(values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CliError(`--limit: "${values.limit}" is not a positive whole number`, EXIT.usage);
  }
  return withAudit(io, async (audit) => {
    const { rows, total } = await audit.grants({
      live: values.active,
      users: values.user,
      resources: values.resource,
      limit,
    });
    if (rows.length === 0) {
      await write(io.stdout, 'no grants match\n');
      return EXIT.ok;
    }
    const lines = [
      ['GRANT', 'USER', 'RESOURCE', 'STATUS', 'STARTED', 'ENDS/ENDED', 'END REASON'],
      ...rows.map((g) => [
        g.id,
        g.userId,
        g.resourceId,
        g.status,
        iso(g.startsAt),
        iso(g.endedAt ?? g.expiresAt),
        g.endReason ?? '',
      ]),
    ];
    const more = total > rows.length ? `…and ${total - rows.length} more (raise --limit)\n` : '';
    await write(io.stdout, table(lines) + more);
    return EXIT.ok;
  });
}

/**
 * `hallpass grants close <id> --reason …`: for a grant whose provider is no longer configured, or
 * whose revoke keeps failing, so Hallpass cannot revoke it. Marks it as needing manual clean-up
 * (never as revoked), alerts the approver channel and the admins, audited as `cli:<os user>`.
 */
export async function grantsClose(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    'grants close',
    args,
    { reason: { type: 'string' } },
    { min: 1, max: 1, names: 'grant id (gr_…)' },
  );
  const reason = values.reason?.trim();
  if (!reason) {
    throw new CliError(
      'grants close: --reason is required (it goes into the audit log)',
      EXIT.usage,
    );
  }
  const grantId = positionals[0]!;
  const { config, file, unset } = cliConfig(io);
  const places = await cliPlaces(file, io.env, { config, unset });
  const actor = `cli:${userInfo().username}`;
  return withStore(
    io,
    async (store) => {
      const directory = new StaticDirectory();
      const core = new Core({ store, clock: io.clock, config, directory, providerPlaces: places });
      const closed = await core.closeByHand(grantId, actor, reason);
      await write(
        io.stdout,
        `${grantId} (${closed.userId} on ${closed.resourceId}) is now stranded: Hallpass did not revoke it.\n` +
          `Remove the access in the target system yourself; the approver channel and the admins were told.\n`,
      );
      return EXIT.ok;
    },
    true,
  );
}

/**
 * `hallpass grants revoke <id> --reason …`: break-glass for an admin when Slack is unreachable.
 * The core records it (audited as done from the CLI by `cli:<os user>`); the running bot's
 * sweeper then takes the access away at the provider.
 */
export async function grantsRevoke(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    'grants revoke',
    args,
    { reason: { type: 'string' } },
    { min: 1, max: 1, names: 'grant id (gr_…)' },
  );
  const reason = values.reason?.trim();
  if (!reason) {
    throw new CliError(
      'grants revoke: --reason is required (it goes into the audit log)',
      EXIT.usage,
    );
  }
  const grantId = positionals[0]!;
  const { config } = cliConfig(io);
  const actor = `cli:${userInfo().username}`;
  return withStore(
    io,
    async (store) => {
      const core = new Core({ store, clock: io.clock, config, directory: new StaticDirectory() });
      const before = await core.grant(grantId);
      if (!before) throw new CliError(`no grant ${grantId} (hallpass grants list shows them)`);
      const after = await core.revokeGrant({ grantId, actor, reason, viaCli: true });
      if (after.status === before.status) {
        await write(io.stdout, `${grantId} is already ${before.status}; nothing to do\n`);
        return EXIT.ok;
      }
      await write(
        io.stdout,
        `${grantId} (${after.userId} on ${after.resourceId}) is now ${after.status}, requested by ${actor}.\n` +
          `${BOT_TAKES_IT_AWAY}\n` +
          `Follow it with: hallpass audit show ${grantId}\n`,
      );
      return EXIT.ok;
    },
    true,
  );
}

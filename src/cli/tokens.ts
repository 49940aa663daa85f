import { userInfo } from 'node:os';
import { parseDuration } from '../config/duration';
import { Core, type TokenInfo, type TokenRevocation } from '../core';
import { plural } from '../plural';
import { StaticDirectory } from '../core/directory';
import { parseCommand } from './args';
import {
  BOT_TAKES_IT_AWAY,
  CliError,
  cliConfig,
  EXIT,
  withStore,
  write,
  type CliIo,
} from './context';

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function coreOn(io: CliIo, fn: (core: Core) => Promise<number>, writes: boolean): Promise<number> {
  const { config } = cliConfig(io);
  return withStore(
    io,
    (store) => fn(new Core({ store, clock: io.clock, config, directory: new StaticDirectory() })),
    writes,
  );
}

/**
 * `hallpass tokens create --identity ci:… --resource R [--resource …]`: prints the token once on
 * stdout (only it, so a script can capture it) and what it is for on stderr; audited as
 * `cli:<os user>`.
 */
export async function tokensCreate(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'tokens create',
    args,
    {
      identity: { type: 'string' },
      resource: { type: 'string', multiple: true },
      note: { type: 'string' },
      'expires-in': { type: 'string' },
    },
    { min: 0, max: 0, names: '' },
  );
  if (!values.identity)
    throw new CliError('tokens create: --identity is required (e.g. ci:deploy-bot)', EXIT.usage);
  if (!values.resource?.length)
    throw new CliError('tokens create: name at least one --resource it may request', EXIT.usage);
  let ttlMs: number | undefined;
  if (values['expires-in'] !== undefined) {
    const parsed = parseDuration(values['expires-in']);
    if (parsed === null)
      throw new CliError(
        `tokens create: --expires-in "${values['expires-in']}" is not a duration (e.g. 90d)`,
        EXIT.usage,
      );
    ttlMs = parsed;
  }
  return coreOn(
    io,
    async (core) => {
      const { token, info } = await core.pipelines.createToken({
        identity: values.identity!,
        resources: values.resource!,
        note: values.note,
        ttlMs,
        actor: `cli:${userInfo().username}`,
      });
      await write(io.stdout, `${token}\n`);
      const lines = [
        `created ${info.id} for ${info.identity} (may request: ${info.resources.join(', ')}${info.expiresAt ? `; expires ${iso(info.expiresAt)}` : ''})`,
        'the token is shown only now: store it as a secret of the pipeline (HALLPASS_TOKEN)',
      ];
      // The token is bound to these; the policy decides whether the identity may use them.
      const caller = {
        via: 'token' as const,
        id: info.identity,
        tokenId: info.id,
        scope: info.resources,
      };
      const allowed = new Set(core.pipelines.requestable(caller).map((r) => r.id));
      for (const id of info.resources.filter((r) => !allowed.has(r)))
        lines.push(
          `warning: no \`pipelines\` rule of ${id} matches ${info.identity} yet, so requests for it will be refused`,
        );
      await write(io.stderr, lines.map((l) => `${l}\n`).join(''));
      return EXIT.ok;
    },
    true,
  );
}

function table(tokens: TokenInfo[]): string {
  const rows = [
    ['TOKEN', 'IDENTITY', 'RESOURCES', 'CREATED', 'BY', 'EXPIRES', 'REVOKED', 'NOTE'],
    ...tokens.map((t) => [
      t.id,
      t.identity,
      t.resources.join(','),
      iso(t.createdAt),
      t.createdBy,
      iso(t.expiresAt),
      t.revokedAt === null ? '-' : `${iso(t.revokedAt)} by ${t.revokedBy ?? '?'}`,
      t.note ?? '',
    ]),
  ];
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

/** `hallpass tokens list [--all]`: live tokens (with `--all`, revoked and expired ones too). */
export async function tokensList(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'tokens list',
    args,
    { all: { type: 'boolean' } },
    { min: 0, max: 0, names: '' },
  );
  return coreOn(
    io,
    async (core) => {
      const now = io.clock.now();
      const tokens = (await core.pipelines.listTokens()).filter(
        (t) => values.all || (t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now)),
      );
      await write(io.stdout, tokens.length === 0 ? 'no tokens\n' : table(tokens));
      return EXIT.ok;
    },
    false,
  );
}

/**
 * `hallpass tokens revoke <tok_…> [--end-grants]`: the token stops working at once, and the
 * requests filed with it that wait for a decision are cancelled; with `--end-grants` the live
 * grants obtained with it are ended too (a leaked token), else they are named and run until they
 * expire (a token rotated out). Audited as `cli:<os user>`.
 */
export async function tokensRevoke(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    'tokens revoke',
    args,
    { 'end-grants': { type: 'boolean' } },
    {
      min: 1,
      max: 1,
      names: 'token id (tok_…)',
    },
  );
  return coreOn(
    io,
    async (core) => {
      const done = await core.pipelines.revokeToken(positionals[0]!, `cli:${userInfo().username}`, {
        endGrants: values['end-grants'] === true,
      });
      await write(io.stdout, revocationText(done));
      return EXIT.ok;
    },
    true,
  );
}

function revocationText({ token, cancelled, ended, left }: TokenRevocation): string {
  const lines = [`revoked ${token.id} (${token.identity})`];
  if (cancelled.length > 0)
    lines.push(`cancelled ${plural(cancelled.length, 'waiting request')}: ${cancelled.join(', ')}`);
  if (ended.length > 0)
    lines.push(
      `ending ${plural(ended.length, 'live grant')} obtained with it: ${ended.join(', ')}`,
      BOT_TAKES_IT_AWAY,
    );
  if (left.length > 0)
    lines.push(
      `${plural(left.length, 'live grant')} obtained with it ${left.length === 1 ? 'runs' : 'run'} until ${left.length === 1 ? 'it expires' : 'they expire'}: ${left.join(', ')}`,
      `to end ${left.length === 1 ? 'it' : 'them'} now: hallpass grants revoke <id> --reason …`,
    );
  return lines.map((l) => `${l}\n`).join('');
}

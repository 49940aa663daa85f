import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ConfigError, parseConfigText } from '../config/load';
import { parseCommand } from './args';
import { CliError, EXIT, paths, write, type CliIo } from './context';

/** One thing `init` needs: its flag, the question asked when the flag is missing, its check. */
interface Field {
  flag: string;
  question: string;
  pattern: RegExp;
  problem: string;
  fallback?: () => string;
}

const FIELDS = {
  admin: {
    flag: '--admin',
    question:
      'Your Slack member ID, to be admin and approver (your profile → ⋮ → Copy member ID, U…)',
    pattern: /^[UW][A-Z0-9]{2,}$/,
    problem: 'is not a Slack member ID like U012ABCDEF',
  },
  approverChannel: {
    flag: '--approver-channel',
    question:
      'Channel where requests are approved (channel name → About → Channel ID at the bottom, C…)',
    pattern: /^[CG][A-Z0-9]{2,}$/,
    problem: 'is not a Slack channel ID like C012ABCDEF',
  },
  channel: {
    flag: '--channel',
    question: 'A private channel people may ask to join for a while (its Channel ID, C… or G…)',
    pattern: /^[CG][A-Z0-9]{2,}$/,
    problem: 'is not a Slack channel ID like C012ABCDEF',
  },
  timezone: {
    flag: '--timezone',
    question: 'Time zone for times in Slack and the digest',
    pattern: /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/,
    problem: 'is not an IANA time zone like Europe/Berlin',
    fallback: () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
  },
} satisfies Record<string, Field>;

type Answers = Record<keyof typeof FIELDS, string>;

/** The minimal configuration: one private channel, granted through Slack alone. */
export function initialConfig(a: Answers): string {
  return `# Written by \`hallpass init\`: one resource, granted with nothing but Slack.
# Check it with \`npx hallpass policy check\`; every key is in the README and in
# hallpass.example.yml. Keep secrets in the environment, never in this file.
timezone: ${a.timezone}
admins: [${a.admin}]

requests:
  approverChannel: ${a.approverChannel}

providers:
  slack:
    type: slack-channel

resources:
  - id: private-channel
    name: Private channel ${a.channel}
    description: Membership of ${a.channel} for a while; Hallpass removes you at the end.
    provider: slack
    target: { channel: ${a.channel} }
    defaultDuration: 1h
    maxDuration: 4h
    approvers: { users: [${a.admin}] }
    # So you can try the whole loop alone: approve your own request. Remove it once others approve.
    allowSelfApproval: true
`;
}

/** Lines typed (or piped) on stdin, one per question; undefined once stdin has ended. */
function lineReader(stdin: Readable): { next(): Promise<string | undefined>; close(): void } {
  const rl = createInterface({ input: stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  return {
    next: async () => {
      const line = await lines.next();
      return line.done ? undefined : line.value.trim();
    },
    close: () => rl.close(),
  };
}

/**
 * `hallpass init`: writes a minimal hallpass.yml for this workspace from flags, asking on stdin
 * for what they do not give (unless --yes). The file is checked as `policy check` would before
 * it is written, and an existing one is kept unless --force.
 */
export async function init(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'init',
    args,
    {
      admin: { type: 'string' },
      'approver-channel': { type: 'string' },
      channel: { type: 'string' },
      timezone: { type: 'string' },
      file: { type: 'string' },
      force: { type: 'boolean' },
      yes: { type: 'boolean' },
    },
    { min: 0, max: 0, names: '' },
  );
  const file = resolve(values.file ?? paths(io).config);
  if (existsSync(file) && !values.force) {
    throw new CliError(`init: ${file} exists; keep it, or run again with --force to replace it`);
  }
  const given: Record<keyof Answers, string | undefined> = {
    admin: values.admin,
    approverChannel: values['approver-channel'],
    channel: values.channel,
    timezone: values.timezone,
  };
  const reader = !values.yes && io.stdin ? lineReader(io.stdin) : undefined;
  const answers = {} as Answers;
  try {
    for (const [key, field] of Object.entries(FIELDS) as [keyof Answers, Field][]) {
      answers[key] = await answer(field, given[key], io, reader);
    }
  } finally {
    reader?.close();
  }
  const text = initialConfig(answers);
  try {
    parseConfigText(text, io.env);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new CliError(err.problems.map((p) => `init: ${p}`).join('\n'));
    throw err;
  }
  writeFileSync(file, text, { mode: 0o644 });
  await write(
    io.stdout,
    `wrote ${file}\n\n` +
      'Next:\n' +
      `  1. Invite the bot to ${answers.approverChannel} and ${answers.channel}: /invite @Hallpass\n` +
      '  2. Start it (HTTP; or SLACK_APP_TOKEN=xapp-… for Socket Mode instead of the signing secret):\n' +
      `     SLACK_BOT_TOKEN=<Bot User OAuth Token> SLACK_SIGNING_SECRET=<Signing Secret> HALLPASS_CONFIG=${file} npm start\n` +
      '  3. In Slack: /jit request private-channel 30m trying Hallpass out\n',
  );
  return EXIT.ok;
}

async function answer(
  field: Field,
  flag: string | undefined,
  io: CliIo,
  reader: ReturnType<typeof lineReader> | undefined,
): Promise<string> {
  if (flag !== undefined) {
    if (!field.pattern.test(flag)) {
      throw new CliError(`init: ${field.flag} "${flag}" ${field.problem}`, EXIT.usage);
    }
    return flag;
  }
  const fallback = field.fallback?.();
  if (!reader) {
    if (fallback !== undefined) return fallback;
    throw new CliError(`init: ${field.flag} is required (${field.question})`, EXIT.usage);
  }
  for (;;) {
    await write(io.stdout, `${field.question}${fallback ? ` [${fallback}]` : ''}: `);
    const line = await reader.next();
    if (line === undefined) {
      throw new CliError(`init: no answer for ${field.flag} (${field.question})`, EXIT.usage);
    }
    const value = line === '' && fallback !== undefined ? fallback : line;
    if (field.pattern.test(value)) return value;
    await write(io.stdout, `  "${value}" ${field.problem}; try again.\n`);
  }
}

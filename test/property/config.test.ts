import fc from 'fast-check';
import { stringify } from 'yaml';
import { formatDuration } from '../../src/config/duration';
import { interpolateEnv } from '../../src/config/interpolate';
import { ConfigError, parseConfig } from '../../src/config/load';

const RUNS = { numRuns: 300 };

/** The problems parseConfig reports, or undefined when it accepts the text. */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] | undefined {
  try {
    parseConfig(text, env);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** `resources[2].maxDuration` → ['resources', 2, 'maxDuration']; `(root)` → []. */
function pathOf(line: string): (string | number)[] | undefined {
  const match = /^(\(root\)|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+|\[\d+\])*): \S/.exec(line);
  if (!match) return undefined;
  if (match[1] === '(root)') return [];
  return [...match[1]!.matchAll(/([A-Za-z0-9_-]+)|\[(\d+)\]/g)].map((m) =>
    m[2] === undefined ? m[1]! : Number(m[2]),
  );
}

/** Whether `path` leads somewhere in `doc`, allowing its last step to be missing. */
function locates(doc: unknown, path: (string | number)[]): boolean {
  let node = doc;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object' || !(key in node)) return false;
    node = (node as Record<string | number, unknown>)[key];
  }
  return path.length === 0 || (node !== null && typeof node === 'object');
}

const KEYS = [
  'timezone',
  'admins',
  'requests',
  'approverChannel',
  'pendingTimeout',
  'minJustification',
  'sweeper',
  'schedule',
  'concurrency',
  'digest',
  'channel',
  'businessHours',
  'days',
  'start',
  'providers',
  'type',
  'url',
  'resources',
  'id',
  'name',
  'provider',
  'maxDuration',
  'minDuration',
  'approvers',
  'users',
  'usergroups',
  'approvalsRequired',
  'ticketPattern',
];
const key = fc.oneof(fc.constantFrom(...KEYS), fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/));
const leaf = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string(),
  fc.constantFrom(
    '1h',
    '0s',
    '90x',
    'UADMIN',
    'C123',
    '*/5 * * * *',
    'Europe/Berlin',
    '(',
    '${NOPE}',
  ),
);
/** Objects shaped somewhat like a config: real key names mixed with others, any values. */
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.dictionary(key, tie('tree'), { maxKeys: 6 }),
  ),
}));

describe('policy files, for any input', () => {
  it('any text: accepted, or refused with a ConfigError and nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (text) => {
        const problems = problemsOf(text);
        if (problems) expect(problems.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('any YAML tree: refused with one line per problem, each naming a path into the file', () => {
    fc.assert(
      fc.property(fc.dictionary(key, tree, { maxKeys: 8 }), (doc) => {
        const problems = problemsOf(stringify(doc));
        if (!problems) return;
        expect(problems.length).toBeGreaterThan(0);
        for (const line of problems) {
          if (line.startsWith('environment variable ')) {
            expect(line).toMatch(
              /^environment variable \w+ is not set \(referenced as \$\{\w+\}\)$/,
            );
            continue;
          }
          const path = pathOf(line);
          expect({ line, named: path !== undefined && locates(doc, path) }).toEqual({
            line,
            named: true,
          });
        }
      }),
      RUNS,
    );
  });

  it('hostile YAML (alias bombs, deep nesting, tags, huge numbers) is refused, never thrown', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
      .concat(
        Array.from({ length: 9 }, (_, i) => {
          const prev = i === 0 ? 'a' : `l${i - 1}`;
          return `l${i}: &l${i} [${Array(10).fill(`*${prev}`).join(', ')}]`;
        }),
      )
      .join('\n');
    for (const text of [
      bomb,
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      'timezone: !!js/function "return 1"',
      'requests: !!binary aGVsbG8=',
      'resources: [{ maxDuration: 1e400 }]',
      'a: 1\na: 2',
      '? [a, b]\n: c',
      '<<: *missing',
      '\uFEFF%YAML 9.9\n---\na: 1',
    ]) {
      expect(problemsOf(text)?.length).toBeGreaterThan(0);
    }
  });
});

const userId = fc.stringMatching(/^U[A-Z0-9]{2,8}$/);
const channelId = fc.stringMatching(/^C[A-Z0-9]{2,8}$/);
const minutes = (n: number) => n * 60_000;

/** A resource that satisfies every rule, with its durations in minutes. */
const resource = fc
  .record({
    // A `${NAME}` in a name is a reference to the environment, which this file does not set.
    name: fc
      .string({ minLength: 1, maxLength: 75 })
      .filter((name) => interpolateEnv(name, {}).missing.length === 0),
    min: fc.integer({ min: 1, max: 60 }),
    spans: fc.tuple(fc.nat(600), fc.nat(600), fc.nat(600)),
    approvers: fc.uniqueArray(userId, { maxLength: 4 }),
    approvalsRequired: fc.nat(4),
    allowSelfApproval: fc.boolean(),
    ticket: fc.option(fc.constantFrom('^[A-Z]+-[0-9]+$', '^INC'), { nil: undefined }),
  })
  .map(({ name, min, spans, approvers, approvalsRequired, allowSelfApproval, ticket }) => {
    const [toDefault, toMax, toTotal] = spans;
    const required = approvers.length === 0 ? 0 : Math.min(approvalsRequired, approvers.length);
    return {
      name,
      minDuration: formatDuration(minutes(min)),
      defaultDuration: formatDuration(minutes(min + toDefault)),
      maxDuration: formatDuration(minutes(min + toDefault + toMax)),
      maxTotalDuration: formatDuration(minutes(min + toDefault + toMax + toTotal)),
      approvalsRequired: required,
      approvers: { users: approvers, usergroups: [] },
      allowSelfApproval,
      ...(ticket ? { requireTicket: true, ticketPattern: ticket } : {}),
    };
  });

const validConfig = fc
  .record({
    timezone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
    admins: fc.uniqueArray(userId, { maxLength: 3 }),
    approverChannel: channelId,
    resources: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}$/), resource), {
      minLength: 1,
      maxLength: 6,
      selector: ([id]) => id,
    }),
  })
  .map(({ timezone, admins, approverChannel, resources }) => ({
    timezone,
    admins,
    requests: { approverChannel },
    providers: { hook: { type: 'webhook', url: 'https://hooks.example/hallpass' } },
    resources: resources.map(([id, r]) => ({ id, provider: 'hook', ...r })),
  }));

describe('valid policy files', () => {
  it('are accepted as written', () => {
    fc.assert(
      fc.property(validConfig, (doc) => {
        const config = parseConfig(stringify(doc), {});
        expect(config.resources.map((r) => r.id)).toEqual(doc.resources.map((r) => r.id));
        config.resources.forEach((r, i) => {
          const written = doc.resources[i]!;
          expect(formatDuration(r.maxDuration)).toBe(written.maxDuration);
          expect(formatDuration(r.defaultDuration)).toBe(written.defaultDuration);
          expect(r.approvalsRequired).toBe(written.approvalsRequired);
        });
      }),
      RUNS,
    );
  });

  it.each<[string, (r: Record<string, unknown>) => void, string]>([
    ['maxDuration below minDuration', (r) => (r.maxDuration = '0m1s'), 'maxDuration'],
    ['an unreadable duration', (r) => (r.defaultDuration = '1.5h'), 'defaultDuration'],
    ['an unknown provider', (r) => (r.provider = 'nope'), 'provider'],
    ['a bad id', (r) => (r.id = 'Not An Id'), 'id'],
    ['an unknown key', (r) => (r.maxDurration = '1h'), 'maxDurration'],
    ['a quorum larger than the approvers', (r) => (r.approvalsRequired = 11), 'approvalsRequired'],
    ['a broken ticket pattern', (r) => (r.ticketPattern = '(['), 'ticketPattern'],
  ])('one resource with %s is refused, naming that resource and key', (_, spoil, field) => {
    fc.assert(
      fc.property(validConfig, fc.nat(), (doc, pick) => {
        const i = pick % doc.resources.length;
        spoil(doc.resources[i] as Record<string, unknown>);
        const problems = problemsOf(stringify(doc));
        expect(problems).toEqual(
          expect.arrayContaining([
            expect.stringMatching(new RegExp(`^resources\\[${i}\\]\\.${field}: `)),
          ]),
        );
      }),
      { numRuns: 100 },
    );
  });
});

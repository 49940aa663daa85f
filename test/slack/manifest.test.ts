import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { EVENTS_PATH } from '../../src/slack/app';
import { COMMAND } from '../../src/slack/listeners/commands';

const ROOT = join(__dirname, '..', '..');
const SCHEMA = join(
  __dirname,
  '..',
  '..',
  '..',
  'shared',
  'slack-manifest-schema',
  'manifest.schema.1.0.0.json',
);

interface Manifest {
  features: { slash_commands: { command: string; url: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { request_url: string; bot_events: string[] };
    interactivity: { request_url: string; message_menu_options_url: string };
    socket_mode_enabled: boolean;
  };
}

const manifest = parse(readFileSync(join(ROOT, 'manifest.yml'), 'utf8')) as Manifest;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}
const source = sourceFiles(join(ROOT, 'src'))
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

/** Each bot scope and what in the code needs it (see docs/slack.md). */
const NEEDED_BY: Record<string, RegExp> = {
  commands: /app\.command\(/,
  'chat:write': /chat\.(postMessage|update|postEphemeral)\b/,
  'usergroups:read': /usergroups\.users\.list\b/,
  'users:read': /users\.info\b/,
  'users:read.email': /profile\?\.email\b/,
  'groups:read': /conversations\.members\b/,
  'groups:write': /conversations\.(invite|kick)\b/,
};

/** Web API methods that need a scope, so a call without its scope in the manifest is caught. */
const METHOD_SCOPES: Record<string, string> = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'conversations.open': 'im:write',
  'conversations.history': 'groups:history',
  'conversations.invite': 'groups:write',
  'conversations.kick': 'groups:write',
  'conversations.members': 'groups:read',
  'usergroups.users.list': 'usergroups:read',
  'usergroups.list': 'usergroups:read',
  'users.info': 'users:read',
  'users.lookupByEmail': 'users:read.email',
  'reactions.add': 'reactions:write',
};

function manifestValidator() {
  const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>;
  expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  // Ajv's default dialect is draft-07. The schema also uses a `regex` keyword and `_note`
  // annotations of its own, and the `uri` format.
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  ajv.addVocabulary(['_note']);
  ajv.addKeyword({
    keyword: 'regex',
    type: 'string',
    schemaType: 'string',
    validate: (pattern: string, value: string) => new RegExp(pattern).test(value),
  });
  return ajv.compile(schema);
}

describe('manifest.yml', () => {
  it('is a manifest Slack accepts', () => {
    const validate = manifestValidator();
    expect(validate(manifest) ? [] : validate.errors).toEqual([]);
  });

  it('would be caught if it were not', () => {
    const validate = manifestValidator();
    const broken = structuredClone(manifest) as unknown as Record<string, Record<string, unknown>>;
    broken.display_information!.background_color = 'blue';
    broken.features!.slash_commands = [{ command: 'jit', description: 'x' }];
    expect(validate(broken)).toBe(false);
    expect(validate.errors!.map((e) => e.instancePath).sort()).toEqual([
      '/display_information/background_color',
      '/features/slash_commands/0/command',
    ]);
  });

  it('routes everything to the one endpoint the app serves, over HTTP', () => {
    const url = `https://YOUR-HOST${EVENTS_PATH}`;
    expect(manifest.features.slash_commands).toEqual([
      expect.objectContaining({ command: COMMAND, url }),
    ]);
    expect(manifest.settings.event_subscriptions).toEqual({
      request_url: url,
      bot_events: ['app_home_opened', 'user_change'],
    });
    expect(manifest.settings.interactivity).toMatchObject({
      request_url: url,
      message_menu_options_url: url,
    });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
  });

  it.each(manifest.oauth_config.scopes.bot)('asks for %s because the code needs it', (scope) => {
    expect(NEEDED_BY[scope]).toBeDefined();
    expect(source).toMatch(NEEDED_BY[scope]!);
  });

  it('asks for every scope the Web API methods in the code need', () => {
    const used = Object.keys(METHOD_SCOPES).filter((method) =>
      new RegExp(`\\b${method.replace('.', '\\.')}\\b`).test(source),
    );
    expect(used.length).toBeGreaterThan(0);
    const missing = used.filter(
      (m) => !manifest.oauth_config.scopes.bot.includes(METHOD_SCOPES[m]!),
    );
    expect(missing).toEqual([]);
  });
});

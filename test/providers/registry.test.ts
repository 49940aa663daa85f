import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load';
import { movedSettings } from '../../src/core';
import { checkProviders, loadProviders, providerPlaces } from '../../src/providers/registry';
import type { SlackApi } from '../../src/providers/types';
import { tempDir } from '../support/tmp';

const FIXTURES = join(__dirname, '..', 'fixtures');
const EXAMPLE = join(__dirname, '..', '..', 'hallpass.example.yml');
const slack: SlackApi = { apiCall: async () => ({ ok: true }) };

/** A valid core configuration around the given providers and resources (YAML). */
function config(providers: string, resources: string) {
  return parseConfig(
    `requests: { approverChannel: CAPPROVALS }\nproviders:\n${providers}\nresources:\n${resources}`,
    {},
  );
}

function resource(id: string, provider: string, target?: string): string {
  const targetYaml = target ? `, target: ${target}` : '';
  return `  - { id: ${id}, name: ${id}, provider: ${provider}${targetYaml}, maxDuration: 1h, approvalsRequired: 0 }`;
}

async function loadProblems(cfg: ReturnType<typeof config>, deps = { configDir: FIXTURES }) {
  const error = await loadProviders(cfg, deps).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof ConfigError))
    throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error.problems;
}

describe('provider registry: checking', () => {
  it('finds nothing wrong with the example configuration', async () => {
    const example = loadConfig(EXAMPLE, { OPS_HOOK_SECRET: 'a-long-enough-secret' });
    expect(await checkProviders(example, join(EXAMPLE, '..'))).toEqual([]);
  });

  it('names each bad setting of a built-in provider by its path', async () => {
    const cfg = config(
      `  ops-hook:
    type: webhook
    url: 'not a url'
    secret: short
    extra: 1
    timeout: soon
    headers: { X-Hallpass-Signature: x, 'bad name': y, X-Ok: "a\\nb", X-Team: ok }
    guarantees: { isolation: total }
  script: { type: command, args: [1], env: { HALLPASS_ACTION: x, 'no-dash': y } }
  db: { type: postgres, url: 'mysql://admin:pw@db/x', connect: { port: 0 } }
  room: { type: slack-channel, channel: C1 }
  mystery: { type: ldap }`,
      resource('r1', 'ops-hook'),
    );
    expect(await checkProviders(cfg, FIXTURES)).toEqual([
      'providers.ops-hook.timeout: "soon" is not a duration (use 5s, 30s, 2m)',
      'providers.ops-hook.url: Invalid URL',
      'providers.ops-hook.secret: must be at least 8 characters (16 or more recommended)',
      'providers.ops-hook.headers.X-Ok: must not contain line breaks',
      'providers.ops-hook.headers.X-Hallpass-Signature: is set by Hallpass and cannot be overridden',
      'providers.ops-hook.headers.bad name: is not a valid header name',
      'providers.ops-hook.guarantees.isolation: Invalid option: expected one of "per-grant"|"shared"',
      'providers.ops-hook.extra: unknown key',
      'providers.script.command: Invalid input: expected string, received undefined',
      'providers.script.args[0]: Invalid input: expected string, received number',
      'providers.script.env.HALLPASS_ACTION: is set by Hallpass and cannot be overridden',
      'providers.script.env.no-dash: is not a valid environment variable name',
      'providers.db.url: must be a postgres:// or postgresql:// connection URL',
      'providers.db.connect.port: Too small: expected number to be >=1',
      'providers.room.channel: unknown key',
      'providers.mystery.type: unknown provider type "ldap" (known: webhook, command, postgres, slack-channel, aws-identity-center, gcp-iam, okta-group, kubernetes, ldap-group, module)',
    ]);
  });

  it('never repeats a secret in a problem', async () => {
    const cfg = config(
      `  db: { type: postgres, url: 'http://admin:hunter2-admin@db/x' }`,
      resource('r1', 'db', '{ roles: [ro] }'),
    );
    const problems = await checkProviders(cfg, FIXTURES);
    expect(problems).toEqual([
      'providers.db.url: must be a postgres:// or postgresql:// connection URL',
    ]);
  });

  it('checks each target against the provider it names, even when that provider is misconfigured', async () => {
    const cfg = config(
      `  db: { type: postgres, url: 'postgres://admin@db/app' }
  room: { type: slack-channel }
  hook: { type: webhook, url: 'https://hooks.example.com/x' }
  mystery: { type: ldap }`,
      [
        resource('r-none', 'db'),
        resource('r-empty', 'db', '{ roles: [] }'),
        resource('r-room', 'room', '{ channel: general, topic: x }'),
        resource('r-hook', 'hook', '{ anything: [1, 2] }'),
        resource('r-bad-role', 'db', '{ roles: ["ro; DROP TABLE x"] }'),
        resource('r-ldap', 'mystery', '{ a: 1 }'),
      ].join('\n'),
    );
    expect(await checkProviders(cfg, FIXTURES)).toEqual([
      'providers.hook.secret: Invalid input: expected string, received undefined',
      'providers.mystery.type: unknown provider type "ldap" (known: webhook, command, postgres, slack-channel, aws-identity-center, gcp-iam, okta-group, kubernetes, ldap-group, module)',
      'resources[0].target.roles: Invalid input: expected array, received undefined',
      'resources[1].target.roles: must name at least one role',
      'resources[2].target.channel: must be a Slack channel id like C012ABCDEF',
      'resources[2].target.topic: unknown key',
      'resources[4].target.roles[0]: must be a role name like analytics_ro',
    ]);
  });

  it('explains each way a module can fail to be an adapter', async () => {
    const cfg = config(
      `  missing: { type: module, module: ./adapters/nope.js }
  not-one: { type: module, module: ./adapters/not-an-adapter.js }
  broken: { type: module, module: ./adapters/fails-to-load.js }
  no-package: { type: module, module: hallpass-no-such-adapter }
  a-package: { type: module, module: zod }
  unnamed: { type: module }
  ledger: { type: module, module: ./adapters/file-grants.js, fil: x }`,
      resource('r-vpn', 'ledger', "{ access: 'a\\tb' }").replace("'a\\tb'", '"a\\tb"'),
    );
    const notAdapter =
      'does not export a provider adapter (a default or `adapter` export with type, configSchema, targetSchema and create)';
    expect(await checkProviders(cfg, FIXTURES)).toEqual([
      `providers.missing.module: cannot find module "./adapters/nope.js" (looked in ${join(FIXTURES, 'adapters', 'nope.js')})`,
      `providers.not-one.module: module "./adapters/not-an-adapter.js" ${notAdapter}`,
      'providers.broken.module: cannot load module "./adapters/fails-to-load.js": missing setting EXAMPLE_API_KEY',
      `providers.no-package.module: cannot find module "hallpass-no-such-adapter" (looked in node_modules from ${FIXTURES})`,
      `providers.a-package.module: module "zod" ${notAdapter}`,
      'providers.unnamed.module: required (a path like ./adapters/mine.js, or a package name)',
      'providers.ledger.file: Invalid input: expected string, received undefined',
      'providers.ledger.fil: unknown key',
      'resources[0].target.access: must be one line without tabs',
    ]);
  });
});

describe('provider registry: loading', () => {
  it('creates every provider with its timeout and guarantees, and binds resources to targets', async () => {
    const cfg = config(
      `  hook: { type: webhook, url: 'https://hooks.example.com/x', secret: 'abcdefgh12345678', timeout: 30s, guarantees: { enforcesExpiry: true } }
  script: { type: command, command: /bin/true }
  db: { type: postgres, url: 'postgres://admin@db.internal:6543/app' }
  room: { type: slack-channel }`,
      [
        resource('r-hook', 'hook', '{ role: ops }'),
        resource('r-db', 'db', '{ roles: [analytics_ro] }'),
        resource('r-room', 'room', '{ channel: CROOM1 }'),
      ].join('\n'),
    );
    const providers = await loadProviders(cfg, { configDir: FIXTURES, slack });
    expect(providers.names).toEqual(['hook', 'script', 'db', 'room']);
    expect(providers.get('hook')).toMatchObject({
      type: 'webhook',
      timeoutMs: 30_000,
      guarantees: { enforcesExpiry: true, endsOpenSessions: false, isolation: 'shared' },
    });
    expect(providers.get('script')).toMatchObject({
      timeoutMs: 10_000,
      guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'shared' },
    });
    expect(providers.get('db')?.guarantees).toEqual({
      enforcesExpiry: true,
      endsOpenSessions: true,
      isolation: 'per-grant',
    });
    expect(providers.guaranteesFor('r-room')).toEqual({
      enforcesExpiry: false,
      endsOpenSessions: true,
      isolation: 'shared',
    });
    expect(providers.forResource('r-db')).toMatchObject({
      name: 'db',
      target: { roles: ['analytics_ro'] },
    });
    expect(providers.forResource('r-hook')?.target).toEqual({ role: 'ops' });
    expect(providers.forResource('gone')).toBeUndefined();
    expect(providers.get('nope')).toBeUndefined();
    await expect(providers.closeAll()).resolves.toBeUndefined();
  });

  it('refuses to load with the problems a check would show', async () => {
    const cfg = config(
      `  hook: { type: webhook, url: nope, secret: 'abcdefgh12345678' }`,
      resource('r-hook', 'hook'),
    );
    expect(await loadProblems(cfg)).toEqual(['providers.hook.url: Invalid URL']);
  });

  it('reports what only creating the providers finds, all at once', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'grant.sh'), '#!/bin/sh\n');
      chmodSync(join(dir, 'grant.sh'), 0o644);
      const cfg = config(
        `  room: { type: slack-channel }
  script: { type: command, command: ./grant.sh }
  odd: { type: module, module: ${join(FIXTURES, 'adapters', 'bad-provider.js')} }`,
        resource('r-room', 'room', '{ channel: CROOM1 }'),
      );
      expect(await loadProblems(cfg, { configDir: dir })).toEqual([
        'providers.room: slack-channel needs the Slack app',
        `providers.script: command ./grant.sh is not an executable file (looked at ${join(dir, 'grant.sh')})`,
        "providers.odd: the provider's guarantees are invalid: guarantees: Invalid input: expected object, received undefined",
      ]);
    } finally {
      cleanup();
    }
  });
});

describe('provider registry: where each instance acts', () => {
  const NO_RESOURCES = resource('r-one', 'p');
  /** Today's place of every instance of `providers` (YAML), and the settings that moved from `was`. */
  async function places(providers: string) {
    return providerPlaces(config(providers, NO_RESOURCES), FIXTURES);
  }
  async function moved(was: string, is: string): Promise<string[]> {
    const [then, now] = [await places(was), await places(is)];
    return movedSettings({ providerPlace: then.get('p')! }, now.get('p')!);
  }

  it('moves with the settings that say where, never with a secret, a timeout or a query', async () => {
    const hook = (url: string, more = '') =>
      `  p: { type: webhook, url: '${url}', secret: 'abcdefgh12345678'${more} }`;
    expect(
      await moved(
        hook('https://hooks.example.com/x?token=a'),
        hook('https://hooks.example.com/x?token=b', ", timeout: 30s, headers: { x-key: '2' }"),
      ),
    ).toEqual([]);
    expect(
      await moved(hook('https://hooks.example.com/x'), hook('https://hooks.example.com/y')),
    ).toEqual(['url']);

    const db = (url: string, connect = '') => `  p: { type: postgres, url: '${url}'${connect} }`;
    expect(
      await moved(
        db('postgres://admin:one@db.internal/app'),
        db('postgres://root:two@db.internal:5432/app'),
      ),
    ).toEqual([]);
    expect(
      await moved(db('postgres://admin@db.internal/app'), db('postgres://admin@db.internal/other')),
    ).toEqual(['url']);
    expect(
      await moved(
        db('postgres://admin@db.internal/app'),
        db('postgres://admin@db.internal/app', ', connect: { host: replica.internal }'),
      ),
    ).toEqual([]);

    const cmd = (args: string) =>
      `  p: { type: command, command: /bin/true, args: ${args}, env: { K: '1' } }`;
    expect(await moved(cmd('[--env, prod]'), cmd('[--env, prod]').replace("'1'", "'2'"))).toEqual(
      [],
    );
    expect(await moved(cmd('[--env, prod]'), cmd('[--env, staging]'))).toEqual(['args']);

    expect(
      await moved(
        `  p: { type: okta-group, orgUrl: 'https://a.okta.com', token: one }`,
        `  p: { type: okta-group, orgUrl: 'https://b.okta.com', token: one }`,
      ),
    ).toEqual(['orgUrl']);
    expect(
      await moved(
        `  p: { type: webhook, url: 'https://hooks.example.com/x', secret: 'abcdefgh12345678' }`,
        `  p: { type: command, command: /bin/true }`,
      ),
    ).toEqual(['args', 'command', 'type', 'url']);
  });

  it('records digests, not the settings themselves', async () => {
    const all = await places(
      `  p: { type: postgres, url: 'postgres://admin:pw@db.internal:6543/app' }
  room: { type: slack-channel }`,
    );
    expect(all.get('room')).toEqual({ type: 'slack-channel' });
    const text = JSON.stringify(all.get('p'));
    expect(text).not.toMatch(/db\.internal|6543|admin|pw/);
    expect(all.get('p')).toEqual({
      type: 'postgres',
      url: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it('takes a module adapter’s own placeOf, and leaves unknown an instance that does not check out', async () => {
    const ledger = (file: string) =>
      `  p: { type: module, module: ./adapters/file-grants.js, file: ${file} }`;
    expect(await moved(ledger('a.tsv'), ledger('b.tsv'))).toEqual(['file']);
    const all = await places(`${ledger('a.tsv')}
  bad: { type: webhook, url: nope, secret: 'abcdefgh12345678' }`);
    expect([...all.keys()]).toEqual(['p', 'bad']);
    expect(all.get('bad')).toBeUndefined();
  });
});

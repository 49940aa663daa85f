import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load';
import { Core, type GrantRow } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { providerPlaces } from '../../src/providers/registry';
import { cliEnv, runCli } from '../cli/run';
import { coreHarness, type CoreHarness } from '../support/core';
import { tempDir } from '../support/tmp';

/**
 * Where each provider type's place comes from, as `hallpass policy check` and `grants close` see
 * it: settings that move an instance's accesses count, harmless edits do not, and the CLI finds a
 * move on a machine without the bot's secrets.
 *
 * Every test here makes a grant the way the bot does (a Core given the places of the file the
 * grant was made under) and then asks what `hallpass policy check` / `hallpass grants close` say
 * of another file: these run the same checkLiveGrants/closeByHand the bot's start-up runs.
 */

const JUST = 'investigating INC-42 slow queries';
const HOUR = 3_600_000;

function yaml(providers: string, resource: string): string {
  return `timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
providers:
${providers}
resources:
  - id: rr
    name: The resource
    provider: p
    maxDuration: 4h
    approvalsRequired: 0
${resource}
`;
}

describe('where a grant was made, seen by the CLI', () => {
  let h: CoreHarness | undefined;
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    tmp.cleanup();
  });

  const file = (name: string, text: string) => {
    const path = join(tmp.dir, name);
    writeFileSync(path, text);
    return path;
  };

  /** An active grant of `r` made by a bot running `text` (written to hallpass.yml in tmp). */
  async function grantUnder(text: string): Promise<GrantRow> {
    h = await coreHarness(text);
    const config = parseConfig(text, {});
    const core = new Core({
      store: h.store,
      clock: h.clock,
      config,
      directory: new StaticDirectory(),
      providerPlaces: await providerPlaces(config, tmp.dir),
    });
    const req = await core.createRequest({
      requester: 'UREQ',
      resourceId: 'rr',
      duration: '1h',
      justification: JUST,
    });
    const row = (await h.store.grants.byRequest(req.id))!;
    expect(JSON.parse(row.snapshot!).providerPlace).toBeDefined();
    const now = h.clock.now();
    await h.core.lifecycle.activated(row.id, {
      startsAt: now,
      expiresAt: now + HOUR,
      state: undefined,
      elapsedMs: 1,
    });
    return (await h.core.grant(row.id))!;
  }

  const policyCheck = (path: string, env: NodeJS.ProcessEnv = {}) =>
    runCli(['policy', 'check', path], cliEnv(h!.location, env), h!.clock);

  describe('postgres: `connect` is only what users are told, the admin connection is `url`', () => {
    const PG_TARGET = '    target: { roles: [analytics_ro] }';
    const pg = (host: string, connectHost: string) =>
      `  p:
    type: postgres
    url: 'postgres://hallpass_admin:pw@${host}:5432/app'
    connect: { host: ${connectHost}, port: 5432, database: app }`;

    // with `connect` set (as docs/providers.md's example does), pointing `url` at another
    // database server is not seen as a move: the bot starts, revokes the grant's role on the new
    // server (where it does not exist: success), reads it back absent there and records the grant
    // `revoked`, while the role with its password stays valid on the old server.
    it('a url pointed at another server (connect unchanged) is refused like any move', async () => {
      const g = await grantUnder(yaml(pg('db-a.internal', 'db.example.com'), PG_TARGET));
      const moved = file('moved.yml', yaml(pg('db-b.internal', 'db.example.com'), PG_TARGET));
      const out = await policyCheck(moved);
      expect(out.code).toBe(1);
      expect(out.stdout).toContain(`grant ${g.id}`);
      expect(out.stdout).toContain('providers.p.url changed since');
    });

    // changing only the address users are told to connect to (a new DNS alias for the same
    // server) is taken for a move: the bot refuses to start until every live grant ends or is
    // stranded by hand, which tells admins to go and remove accesses that are in fact still
    // revocable.
    it('a new `connect.host` alone (display only) does not block start-up', async () => {
      await grantUnder(yaml(pg('db-a.internal', 'db.example.com'), PG_TARGET));
      const renamed = file('renamed.yml', yaml(pg('db-a.internal', 'psql.example.com'), PG_TARGET));
      expect(await policyCheck(renamed)).toMatchObject({ code: 0 });
    });
  });

  describe('kubernetes: the place is the cluster the kubeconfig names, not its path', () => {
    const K8S_TARGET = '    target: { clusterRole: view }';
    const kubeconfig = (server: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server } }],
        users: [{ name: 'u', user: { token: 'kube-token-for-review-tests' } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      });

    // a kubeconfig mounted at a fixed path (a Kubernetes secret, a CI-rendered file) whose
    // content now names another cluster moves every grant's ClusterRoleBinding elsewhere, yet
    // nothing notices: the revoke deletes a binding that is not there (not-found counts as gone)
    // and the grant is recorded revoked while the binding stays on the old cluster.
    it('a kubeconfig whose content now names another cluster is refused like any move', async () => {
      file('kube.yaml', kubeconfig('https://cluster-a.example.com:6443'));
      const text = yaml(`  p: { type: kubernetes, kubeconfig: kube.yaml }`, K8S_TARGET);
      const g = await grantUnder(text);
      file('kube.yaml', kubeconfig('https://cluster-b.example.com:6443'));
      const out = await policyCheck(file('hallpass.yml', text));
      expect(out.code).toBe(1);
      expect(out.stdout).toContain(`grant ${g.id}`);
    });

    // spelling out the default (`inCluster: false` next to a kubeconfig) or writing the
    // same file as `./kube.yaml` moves nothing, but the bot refuses to start on it while any
    // grant is live, and `grants close` would strand grants it can still revoke.
    it('`inCluster: false` written out, or `./kube.yaml` for `kube.yaml`, is not a move', async () => {
      file('kube.yaml', kubeconfig('https://cluster-a.example.com:6443'));
      await grantUnder(yaml(`  p: { type: kubernetes, kubeconfig: kube.yaml }`, K8S_TARGET));
      const spelled = file(
        'spelled.yml',
        yaml(`  p: { type: kubernetes, kubeconfig: kube.yaml, inCluster: false }`, K8S_TARGET),
      );
      expect(await policyCheck(spelled)).toMatchObject({ code: 0 });
      const dotted = file(
        'dotted.yml',
        yaml(`  p: { type: kubernetes, kubeconfig: ./kube.yaml }`, K8S_TARGET),
      );
      expect(await policyCheck(dotted)).toMatchObject({ code: 0 });
    });
  });

  describe('the CLI on a machine without the bot’s secrets', () => {
    const SECRET = 'a-long-enough-hook-secret';
    const hook = (path: string, secret: string) =>
      `  p: { type: webhook, url: 'http://127.0.0.1:9/${path}', secret: '${secret}' }`;

    // start-up refuses on a moved url and tells the admin to run `hallpass grants close`.
    // The CLI does not need provider secrets (cliConfig allows them unset), and the admin's
    // machine rarely has them: with only `secret: ${HOOK_SECRET}` unset, the CLI drops the whole
    // instance's place, sees nothing moved and refuses ("still configured: revoke it"), so the
    // documented way out of a refused start-up does not work and the bot stays down.
    it('`grants close` strands a moved grant though an unrelated secret is unset here', async () => {
      const g = await grantUnder(yaml(hook('hook', SECRET), ''));
      const moved = file('moved.yml', yaml(hook('new-hook', '${HOOK_SECRET}'), ''));
      const closed = await runCli(
        ['grants', 'close', g.id, '--reason', 'hook moved to the new cluster'],
        cliEnv(h!.location, { HALLPASS_CONFIG: moved }),
        h!.clock,
      );
      expect(closed.stderr).toBe('');
      expect(closed.code).toBe(0);
      expect(await h!.core.grant(g.id)).toMatchObject({
        status: 'stranded',
        endReason: 'provider_moved',
      });
    });

    // A place read from a variable unset here says nothing of where the bot's instance points.
    it('`policy check` does not call an instance moved whose url is a variable unset here', async () => {
      await grantUnder(yaml(hook('hook', SECRET), ''));
      const unset = file('unset.yml', yaml(hook('${HOOK_PATH}', '${HOOK_SECRET}'), ''));
      expect(await policyCheck(unset)).toMatchObject({ code: 0 });
      const moved = file('moved.yml', yaml(hook('${HOOK_PATH}', '${HOOK_SECRET}'), ''));
      expect(await policyCheck(moved, { HOOK_PATH: 'new-hook' })).toMatchObject({ code: 1 });
    });

    // `policy check` run before a deploy (CI, a laptop: secrets unset) says "ok" for a file
    // that moves a live grant's url, because a secret of that instance is unset; the bot then
    // refuses to start on that very file.
    it('`policy check` reports a moved url though only the secret is unset here', async () => {
      const g = await grantUnder(yaml(hook('hook', SECRET), ''));
      const moved = file('moved.yml', yaml(hook('new-hook', '${HOOK_SECRET}'), ''));
      const out = await policyCheck(moved);
      expect(out.code).toBe(1);
      expect(out.stdout).toContain(`grant ${g.id}`);
      expect(out.stdout).toContain('providers.p.url changed since');
    });
  });

  describe('module adapters', () => {
    const adapter = (placeOf: string) => `'use strict';
const { z } = require(${JSON.stringify(require.resolve('zod'))});
module.exports = {
  type: 'groups-api',
  configSchema: z.strictObject({ baseUrl: z.string(), token: z.string() }),
  targetSchema: z.strictObject({ group: z.string() }),
  placeOf: ${placeOf},
  create() {
    return {
      guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'per-grant' },
      async grant() { return {}; },
      async revoke() {},
      async check() { return false; },
    };
  },
};
`;
    const mod = (base: string) =>
      `  p: { type: module, module: ./groups-api.js, baseUrl: '${base}', token: t0k3n }`;
    const TARGET = '    target: { group: db-readers }';

    // A URL object digests as `{}` (every URL the same) and a Promise as nothing: either would
    // tell no two systems apart while the protection seemed in place, so it is a problem.
    it.each([
      ['a URL object', '(config) => ({ baseUrl: new URL(config.baseUrl) })'],
      ['a Promise', 'async (config) => ({ baseUrl: config.baseUrl })'],
    ])('refuses a placeOf answering %s', async (_what, placeOf) => {
      file('groups-api.js', adapter(placeOf));
      const out = await runCli(
        [
          'policy',
          'check',
          file('hallpass.yml', yaml(mod('https://groups-a.example.com'), TARGET)),
        ],
        { HALLPASS_DB: join(tmp.dir, 'none.db') },
      );
      expect(out).toEqual({
        code: 1,
        stdout:
          'providers.p: placeOf() must answer an object of plain JSON values (strings, numbers, arrays, objects) by setting name\n',
        stderr: '',
      });
    });

    it('tells two systems apart by what a placeOf names', async () => {
      file('groups-api.js', adapter('(config) => ({ baseUrl: config.baseUrl })'));
      const g = await grantUnder(yaml(mod('https://groups-a.example.com'), TARGET));
      const moved = file('moved.yml', yaml(mod('https://groups-b.example.com'), TARGET));
      const out = await policyCheck(moved);
      expect(out.code).toBe(1);
      expect(out.stdout).toContain(`grant ${g.id}`);
      expect(out.stdout).toContain('providers.p.baseUrl changed since');
    });
  });
});

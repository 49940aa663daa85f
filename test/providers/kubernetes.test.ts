import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { ConfigError, parseConfig } from '../../src/config/load';
import {
  kubernetesAdapter,
  type KubernetesConfig,
  type KubernetesTarget,
} from '../../src/providers/kubernetes/adapter';
import { bindingName } from '../../src/providers/kubernetes/names';
import { loadProviders } from '../../src/providers/registry';
import type { Provider, ProviderCallContext } from '../../src/providers/types';
import { FakeKubeApi, type FakeRule, type SeedBinding } from '../support/fake-kube-api';
import { tempDir } from '../support/tmp';
import { callContext, providerContract } from './contract';

const HALLPASS = {
  token: 'hallpass-sa-token-8f3e2a91c4',
  name: 'system:serviceaccount:hallpass:hallpass',
};
const ADMIN = { token: 'cluster-admin-token-5d71b0', name: 'kubernetes-admin' };
const HOUR = 3_600_000;

/**
 * Exactly what docs/providers.md asks for: the `hallpass` ClusterRole, bound cluster-wide (get,
 * create, update, delete on both kinds of binding; bind on the ClusterRoles it hands out), and
 * the Role in team-a that lets it bind the namespace's own `deployer` Role.
 */
const DOCUMENTED_RULES: FakeRule[] = [
  {
    verbs: ['get', 'create', 'update', 'delete'],
    resources: ['rolebindings', 'clusterrolebindings'],
  },
  { verbs: ['bind'], resources: ['clusterroles'], resourceNames: ['view', 'edit'] },
  { verbs: ['bind'], resources: ['roles'], resourceNames: ['deployer'], namespace: 'team-a' },
];

const IN_TEAM_A: KubernetesTarget = { namespace: 'team-a', clusterRole: 'view' };
const CLUSTER_WIDE: KubernetesTarget = { clusterRole: 'view' };

let fake: FakeKubeApi;
let folder: { dir: string; cleanup: () => void };

beforeAll(async () => {
  fake = await new FakeKubeApi().start();
  fake.namespaces.add('team-a').add('team-b');
  fake.addUser(HALLPASS.token, { name: HALLPASS.name, rules: DOCUMENTED_RULES });
  fake.addUser(ADMIN.token, {
    name: ADMIN.name,
    rules: [{ verbs: ['*'], resources: ['rolebindings', 'clusterrolebindings'] }],
  });
  folder = tempDir('hallpass-k8s-');
  writeFileSync(join(folder.dir, 'kubeconfig.yaml'), fake.kubeconfig(HALLPASS.token));
});

afterAll(async () => {
  await fake?.stop();
  folder?.cleanup();
});

function kubernetes(settings: Partial<KubernetesConfig> = {}): Provider<KubernetesTarget> {
  const config = kubernetesAdapter.configSchema.parse({
    kubeconfig: 'kubeconfig.yaml',
    ...settings,
  });
  return kubernetesAdapter.create(config, { configDir: folder.dir });
}

/** A kubeconfig for another user of the fake, next to hallpass.yml. */
function kubeconfigFor(token: string, file: string): string {
  writeFileSync(join(folder.dir, file), fake.kubeconfig(token));
  return file;
}

/** The real SDK as a cluster admin would use it: `kubectl get … -l hallpass.io/grant-id=…`. */
function adminApi(): RbacAuthorizationV1Api {
  const config = new KubeConfig();
  config.loadFromString(fake.kubeconfig(ADMIN.token));
  return config.makeApiClient(RbacAuthorizationV1Api);
}

/** Every binding labelled with the grant's id, anywhere, paging one item at a time. */
async function bindingsOf(grantId: string): Promise<number> {
  const api = adminApi();
  const labelSelector = `hallpass.io/grant-id=${grantId}`;
  let count = 0;
  for (const list of [
    (_continue?: string) =>
      api.listRoleBindingForAllNamespaces({ labelSelector, limit: 1, _continue }),
    (_continue?: string) => api.listClusterRoleBinding({ labelSelector, limit: 1, _continue }),
  ]) {
    let token: string | undefined;
    do {
      const page = await list(token);
      count += page.items.length;
      token = page.metadata?._continue;
    } while (token);
  }
  return count;
}

function storedOf(ctx: ProviderCallContext<KubernetesTarget>) {
  const name = bindingName(ctx.grantId);
  const { namespace } = ctx.resource.target;
  return namespace === undefined
    ? fake.binding('clusterrolebindings', name)
    : fake.binding('rolebindings', name, namespace);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof Error)) throw new Error(`expected an Error, got ${String(error)}`);
  return error;
}

function requestsSince(start: number): string[] {
  return fake.requests.slice(start).map((r) => `${r.method} ${r.path}`);
}

for (const [kind, target] of [
  ['RoleBinding', IN_TEAM_A],
  ['ClusterRoleBinding', CLUSTER_WIDE],
] as const) {
  providerContract(`kubernetes (${kind})`, async () => {
    const provider = kubernetes();
    return {
      provider,
      target,
      held: (ctx) => bindingsOf(ctx.grantId),
      expiryHeld: async (ctx) => {
        const at = storedOf(ctx)?.metadata.annotations?.['hallpass.io/expires-at'];
        return at === undefined ? null : new Date(at);
      },
      stalled: async () => {
        fake.fail({ kind: 'hang' }, Infinity);
        return { provider, release: async () => fake.release() };
      },
      stop: async () => undefined,
    };
  });
}

describe('kubernetes provider', () => {
  afterEach(() => {
    fake.release();
    fake.beforeServing = undefined;
  });

  it('binds the user to a ClusterRole in a namespace with a RoleBinding named and labelled by the grant', async () => {
    const ctx = callContext(IN_TEAM_A, { user: { slackId: 'UADA', email: 'ada@example.com' } });
    const start = fake.requests.length;
    const result = await kubernetes().grant(ctx);

    const name = bindingName(ctx.grantId);
    expect(name).toBe(`hallpass-${ctx.grantId.replace('_', '-')}`);
    expect(result).toEqual({ state: { kind: 'RoleBinding', namespace: 'team-a', name } });
    expect(fake.binding('rolebindings', name, 'team-a')).toMatchObject({
      kind: 'RoleBinding',
      metadata: {
        name,
        namespace: 'team-a',
        labels: { 'hallpass.io/grant-id': ctx.grantId, 'app.kubernetes.io/managed-by': 'hallpass' },
        annotations: {
          'hallpass.io/request-id': ctx.requestId,
          'hallpass.io/slack-user': 'UADA',
          'hallpass.io/resource-id': 'contract',
          'hallpass.io/expires-at': ctx.expiresAt.toISOString(),
        },
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'ada@example.com' }],
    });
    expect(requestsSince(start)).toEqual([
      'POST /apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings',
    ]);
    expect(fake.requests.at(-1)).toMatchObject({
      user: HALLPASS.name,
      contentType: 'application/json',
    });
  });

  it('binds a Role of the namespace', async () => {
    const ctx = callContext({ namespace: 'team-a', role: 'deployer' });
    await kubernetes().grant(ctx);
    expect(storedOf(ctx)?.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'deployer',
    });
  });

  it('binds cluster-wide with a ClusterRoleBinding, and revoke deletes it', async () => {
    const ctx = callContext(CLUSTER_WIDE);
    const provider = kubernetes();
    const { state } = await provider.grant(ctx);
    expect(state).toEqual({ kind: 'ClusterRoleBinding', name: bindingName(ctx.grantId) });
    expect(storedOf(ctx)).toMatchObject({ kind: 'ClusterRoleBinding', roleRef: { name: 'view' } });
    expect(storedOf(ctx)?.metadata.namespace).toBeUndefined();

    const start = fake.requests.length;
    await provider.revoke({ ...ctx, state });
    expect(storedOf(ctx)).toBeUndefined();
    expect(requestsSince(start)).toEqual([
      `DELETE /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${bindingName(ctx.grantId)}`,
    ]);
  });

  it('counts 409 AlreadyExists for an identical binding as done, without writing', async () => {
    const ctx = callContext(IN_TEAM_A);
    const provider = kubernetes();
    await provider.grant(ctx);
    const version = storedOf(ctx)?.metadata.resourceVersion;
    const start = fake.requests.length;
    await provider.grant(ctx);
    const path = '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings';
    expect(requestsSince(start)).toEqual([
      `POST ${path}`,
      `GET ${path}/${bindingName(ctx.grantId)}`,
    ]);
    expect(storedOf(ctx)?.metadata.resourceVersion).toBe(version);
  });

  it('moves the expiry of an existing binding with an update carrying the resourceVersion it read', async () => {
    const ctx = callContext(IN_TEAM_A);
    const provider = kubernetes();
    const { state } = await provider.grant(ctx);
    const before = storedOf(ctx)!;
    const extended = { ...ctx, state, expiresAt: new Date(ctx.expiresAt.getTime() + HOUR) };
    const start = fake.requests.length;
    await provider.grant(extended);
    const after = storedOf(ctx)!;
    expect(requestsSince(start).map((r) => r.split(' ')[0])).toEqual(['POST', 'GET', 'PUT']);
    expect(after.metadata.annotations?.['hallpass.io/expires-at']).toBe(
      extended.expiresAt.toISOString(),
    );
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(
      Number(before.metadata.resourceVersion),
    );
  });

  it('keeps labels and annotations others added when it moves the expiry', async () => {
    const ctx = callContext(IN_TEAM_A);
    const provider = kubernetes();
    await provider.grant(ctx);
    const stored = storedOf(ctx)!;
    stored.metadata.annotations = {
      ...stored.metadata.annotations,
      'team.example/ticket': 'OPS-1',
    };
    await provider.grant({ ...ctx, expiresAt: new Date(ctx.expiresAt.getTime() + HOUR) });
    expect(storedOf(ctx)?.metadata.annotations?.['team.example/ticket']).toBe('OPS-1');
  });

  it('reads again and retries when the binding changed between its read and its update (409 Conflict)', async () => {
    const ctx = callContext(IN_TEAM_A);
    const provider = kubernetes();
    await provider.grant(ctx);
    let raced = false;
    fake.beforeServing = (request) => {
      if (request.method === 'PUT' && !raced) {
        raced = true;
        fake.touch('rolebindings', bindingName(ctx.grantId), 'team-a');
      }
    };
    const start = fake.requests.length;
    const extended = { ...ctx, expiresAt: new Date(ctx.expiresAt.getTime() + HOUR) };
    await provider.grant(extended);
    expect(requestsSince(start).map((r) => r.split(' ')[0])).toEqual([
      'POST',
      'GET',
      'PUT',
      'POST',
      'GET',
      'PUT',
    ]);
    expect(storedOf(ctx)?.metadata.annotations?.['hallpass.io/expires-at']).toBe(
      extended.expiresAt.toISOString(),
    );
  });

  describe('refuses a binding of its name that is not what the grant asks for', () => {
    function seedFor(
      ctx: ProviderCallContext<KubernetesTarget>,
      changes: { subject?: string; role?: string; label?: string | null },
    ): SeedBinding {
      const labels: Record<string, string> =
        changes.label === null ? {} : { 'hallpass.io/grant-id': changes.label ?? ctx.grantId };
      return {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: bindingName(ctx.grantId), namespace: 'team-a', labels },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: changes.role ?? 'view',
        },
        subjects: [
          {
            kind: 'User',
            apiGroup: 'rbac.authorization.k8s.io',
            name: changes.subject ?? ctx.user.email!,
          },
        ],
      };
    }

    it.each([
      [
        'another subject',
        { subject: 'mallory@example.com' },
        /already binds User "mallory@example.com" to ClusterRole "view", not User "u\w+@example.com" to ClusterRole "view"; Hallpass does not repoint a binding/,
      ],
      [
        'another role',
        { role: 'edit' },
        /already binds User "u\w+@example.com" to ClusterRole "edit", not .* to ClusterRole "view"/,
      ],
      [
        'no grant label',
        { label: null },
        /exists but is not Hallpass's binding for grant gr_\w+ \(its hallpass.io\/grant-id label is missing\)/,
      ],
    ])('%s', async (_, changes, message) => {
      const ctx = callContext(IN_TEAM_A);
      const seeded = fake.seed('rolebindings', seedFor(ctx, changes));
      await expect(kubernetes().grant(ctx)).rejects.toThrow(message);
      expect(storedOf(ctx)).toEqual(seeded);
    });
  });

  describe('userTemplate', () => {
    const user = { slackId: 'U0ADA', email: 'ada.lovelace@example.com' };

    it.each([
      [undefined, 'ada.lovelace@example.com'],
      ['oidc:{email}', 'oidc:ada.lovelace@example.com'],
      ['{localPart}', 'ada.lovelace'],
      ['slack:{slackId}', 'slack:U0ADA'],
      ['{localPart}-{slackId}', 'ada.lovelace-U0ADA'],
    ])('%s binds %s', async (userTemplate, expected) => {
      const ctx = callContext(CLUSTER_WIDE, { user });
      await kubernetes(userTemplate === undefined ? {} : { userTemplate }).grant(ctx);
      expect(storedOf(ctx)?.subjects).toEqual([
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: expected },
      ]);
    });

    it('a template with {slackId} needs no email; one with {email} fails without it, saying why', async () => {
      const noEmail = { slackId: 'U0NOMAIL' };
      const ctx = callContext(CLUSTER_WIDE, { user: noEmail });
      await kubernetes({ userTemplate: '{slackId}' }).grant(ctx);
      expect(storedOf(ctx)?.subjects?.[0]?.name).toBe('U0NOMAIL');

      const other = callContext(CLUSTER_WIDE, { user: noEmail });
      await expect(kubernetes().grant(other)).rejects.toThrow(
        'userTemplate "{email}" needs the user’s email, and Slack gave none for U0NOMAIL (the app needs the users:read.email scope)',
      );
      expect(storedOf(other)).toBeUndefined();
    });
  });

  it('revokes and checks where the grant put the binding, even after the resource’s namespace changed', async () => {
    const ctx = callContext(IN_TEAM_A);
    const provider = kubernetes();
    const { state } = await provider.grant(ctx);
    const moved = {
      ...ctx,
      state,
      resource: { ...ctx.resource, target: { ...IN_TEAM_A, namespace: 'team-b' } },
    };
    expect(await provider.check!(moved)).toBe(true);
    await provider.revoke(moved);
    expect(fake.binding('rolebindings', bindingName(ctx.grantId), 'team-a')).toBeUndefined();
    expect(await provider.check!(moved)).toBe(false);
  });

  describe('API errors', () => {
    it('403 on a missing verb names the verb, the resource and where', async () => {
      fake.addUser('read-only-token-1234567', {
        name: HALLPASS.name,
        rules: [{ verbs: ['get'], resources: ['rolebindings', 'clusterrolebindings'] }],
      });
      const provider = kubernetes({
        kubeconfig: kubeconfigFor('read-only-token-1234567', 'ro.yaml'),
      });
      const ctx = callContext(IN_TEAM_A);
      const error = await failure(provider.grant(ctx));
      expect(error.message).toBe(
        `kubernetes create RoleBinding team-a/${bindingName(ctx.grantId)} is forbidden: Hallpass's account needs the create verb on rolebindings in namespace team-a: rolebindings.rbac.authorization.k8s.io is forbidden: User "${HALLPASS.name}" cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "team-a"`,
      );
      await expect(provider.revoke(callContext(CLUSTER_WIDE))).rejects.toThrow(
        /^kubernetes delete ClusterRoleBinding hallpass-gr-\w+ is forbidden: Hallpass's account needs the delete verb on clusterrolebindings \(cluster-wide\)/,
      );
      expect(error.message).not.toContain('read-only-token-1234567');
    });

    it('403 for a role Hallpass may not bind names the bind permission it lacks', async () => {
      const ctx = callContext({ namespace: 'team-a', clusterRole: 'cluster-admin' });
      await expect(kubernetes().grant(ctx)).rejects.toThrow(
        /^kubernetes create RoleBinding team-a\/hallpass-gr-\w+ is forbidden: Hallpass may not bind ClusterRole "cluster-admin" \(give its account the bind verb on clusterroles named cluster-admin\): .*is attempting to grant RBAC permissions not currently held/,
      );
      const role = callContext({ namespace: 'team-b', role: 'deployer' });
      await expect(kubernetes().grant(role)).rejects.toThrow(
        /Hallpass may not bind Role "deployer" \(give its account the bind verb on roles named deployer\)/,
      );
      expect(storedOf(ctx)).toBeUndefined();
      expect(storedOf(role)).toBeUndefined();
    });

    it('401 says the credentials are not accepted, without repeating them', async () => {
      const provider = kubernetes({
        kubeconfig: kubeconfigFor('revoked-token-0000000', 'old.yaml'),
      });
      const error = await failure(provider.check!(callContext(IN_TEAM_A)));
      expect(error.message).toMatch(
        /^kubernetes get RoleBinding team-a\/hallpass-gr-\w+ was refused: 401 Unauthorized \(/,
      );
      expect(error.message).not.toContain('revoked-token-0000000');
    });

    it('404 for the namespace fails the grant with the API server’s words', async () => {
      const ctx = callContext({ namespace: 'ghost', clusterRole: 'view' });
      await expect(kubernetes().grant(ctx)).rejects.toThrow(
        /^kubernetes create RoleBinding ghost\/hallpass-gr-\w+ failed: 404 NotFound: namespaces "ghost" not found$/,
      );
    });

    it('404 on delete and on read mean the access is gone', async () => {
      const ctx = callContext(IN_TEAM_A);
      const start = fake.requests.length;
      await kubernetes().revoke(ctx);
      expect(await kubernetes().check!(ctx)).toBe(false);
      expect(requestsSince(start).map((r) => r.split(' ')[0])).toEqual(['DELETE', 'GET']);
    });

    it('waits out a short 429 Retry-After and tries again', async () => {
      fake.fail(
        {
          kind: 'status',
          code: 429,
          reason: 'TooManyRequests',
          message: 'Too many requests, please try again later.',
          retryAfter: 1,
        },
        1,
      );
      const ctx = callContext(IN_TEAM_A);
      const started = Date.now();
      await kubernetes().grant(ctx);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(storedOf(ctx)).toBeDefined();
    });

    it('fails on a long Retry-After, or when throttled on every try, so the sweeper backs off', async () => {
      const throttle = (retryAfter: number, times: number) =>
        fake.fail(
          {
            kind: 'status',
            code: 429,
            reason: 'TooManyRequests',
            message: 'slow down',
            retryAfter,
          },
          times,
        );
      throttle(30, 1);
      await expect(kubernetes().grant(callContext(IN_TEAM_A))).rejects.toThrow(
        /^kubernetes create RoleBinding team-a\/hallpass-gr-\w+ was throttled: 429 TooManyRequests, asked to retry after 30s$/,
      );
      throttle(0, 3);
      const start = fake.requests.length;
      await expect(kubernetes().revoke(callContext(IN_TEAM_A))).rejects.toThrow(/was throttled/);
      expect(fake.requests.length - start).toBe(3);
    });

    it('a Retry-After wait is cut short by the call’s timeout', async () => {
      fake.fail(
        {
          kind: 'status',
          code: 429,
          reason: 'TooManyRequests',
          message: 'slow down',
          retryAfter: 5,
        },
        1,
      );
      const started = Date.now();
      const ctx = callContext(IN_TEAM_A, { signal: AbortSignal.timeout(200) });
      await expect(kubernetes().grant(ctx)).rejects.toThrow(/timed out/);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('other failures carry the Status reason and message', async () => {
      fake.fail(
        {
          kind: 'status',
          code: 500,
          reason: 'InternalError',
          message: 'etcdserver: request timed out',
        },
        1,
      );
      await expect(kubernetes().check!(callContext(IN_TEAM_A))).rejects.toThrow(
        /^kubernetes get RoleBinding team-a\/hallpass-gr-\w+ failed: 500 InternalError: etcdserver: request timed out$/,
      );
    });

    it('a timeout cancels the request itself, not only the wait for it', async () => {
      fake.fail({ kind: 'hang' }, 1);
      const abandoned = fake.abandoned;
      const ctx = callContext(IN_TEAM_A, { signal: AbortSignal.timeout(150) });
      await expect(kubernetes().check!(ctx)).rejects.toThrow(
        /^kubernetes get RoleBinding team-a\/hallpass-gr-\w+ timed out$/,
      );
      while (fake.abandoned === abandoned) await new Promise((r) => setTimeout(r, 10));
    });

    it('an unreachable API server fails with the network error', async () => {
      const closed = new FakeKubeApi();
      await closed.start();
      const file = join(folder.dir, 'gone.yaml');
      writeFileSync(file, closed.kubeconfig(HALLPASS.token));
      await closed.stop();
      await expect(
        kubernetes({ kubeconfig: 'gone.yaml' }).check!(callContext(IN_TEAM_A)),
      ).rejects.toThrow(
        /^kubernetes get RoleBinding team-a\/hallpass-gr-\w+ failed: .*ECONNREFUSED/,
      );
    });
  });
});

describe('kubernetes provider configuration', () => {
  function config(provider: string, target = '{ namespace: team-a, clusterRole: view }') {
    return parseConfig(
      `requests: { approverChannel: CAPPROVALS }
providers:
  k8s: ${provider}
resources:
  - { id: r1, name: r1, provider: k8s, target: ${target}, maxDuration: 1h, approvalsRequired: 0 }`,
      {},
    );
  }

  async function problems(provider: string, target?: string): Promise<string[]> {
    const error = await loadProviders(config(provider, target), { configDir: folder.dir }).then(
      async (set) => {
        await set.closeAll();
        return undefined;
      },
      (err: unknown) => err,
    );
    if (!(error instanceof ConfigError))
      throw new Error(`expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }

  it('loads with a kubeconfig relative to the configuration folder', async () => {
    const set = await loadProviders(
      config('{ type: kubernetes, kubeconfig: kubeconfig.yaml, context: fake }'),
      { configDir: folder.dir },
    );
    expect(set.get('k8s')?.guarantees).toEqual({
      enforcesExpiry: false,
      endsOpenSessions: false,
      isolation: 'per-grant',
    });
  });

  it.each([
    [
      '{ type: kubernetes }',
      'providers.k8s: set kubeconfig (a kubeconfig file, relative to hallpass.yml) or inCluster: true (the pod’s service account)',
    ],
    [
      '{ type: kubernetes, inCluster: false }',
      'providers.k8s: set kubeconfig (a kubeconfig file, relative to hallpass.yml) or inCluster: true (the pod’s service account)',
    ],
    [
      '{ type: kubernetes, kubeconfig: kubeconfig.yaml, inCluster: true }',
      'providers.k8s.inCluster: cannot be combined with kubeconfig: use one or the other',
    ],
    [
      '{ type: kubernetes, inCluster: true, context: prod }',
      'providers.k8s.context: only applies with kubeconfig (in the cluster the pod’s service account is used)',
    ],
    [
      '{ type: kubernetes, kubeconfig: kubeconfig.yaml, userTemplate: "{name}" }',
      'providers.k8s.userTemplate: unknown placeholder {name} (use {email}, {localPart}, {slackId})',
    ],
    [
      '{ type: kubernetes, kubeconfig: kubeconfig.yaml, userTemplate: ops-team }',
      'providers.k8s.userTemplate: must contain {email}, {localPart}, {slackId}: without one every grant would bind the same user',
    ],
    [
      '{ type: kubernetes, kubeconfig: kubeconfig.yaml, token: x }',
      'providers.k8s.token: unknown key',
    ],
  ])('%s', async (provider, problem) => {
    expect(await problems(provider)).toEqual([problem]);
  });

  it.each([
    [
      '{ namespace: team-a, role: deployer, clusterRole: view }',
      'resources[0].target.clusterRole: cannot be combined with role: a binding refers to one role',
    ],
    [
      '{ namespace: team-a }',
      'resources[0].target: set role (a Role of the namespace) or clusterRole (a ClusterRole, bound in namespace if set, else cluster-wide)',
    ],
    [
      '{ role: deployer }',
      'resources[0].target.namespace: is required with role: a Role lives in a namespace (use clusterRole for a cluster-wide grant)',
    ],
    [
      '{ namespace: Team_A, clusterRole: view }',
      'resources[0].target.namespace: must be a namespace name like team-a',
    ],
    [
      '{ clusterRole: "a/b" }',
      'resources[0].target.clusterRole: must be a role name like view (no "/" or "%")',
    ],
  ])('target %s', async (target, problem) => {
    expect(await problems('{ type: kubernetes, kubeconfig: kubeconfig.yaml }', target)).toEqual([
      problem,
    ]);
  });

  it('checks the kubeconfig when the provider is created', async () => {
    writeFileSync(
      join(folder.dir, 'broken.yaml'),
      `users:\n- name: x\n  user: { token: super-secret-token-42 }\n  - : [\n`,
    );
    writeFileSync(
      join(folder.dir, 'plain.yaml'),
      fake.kubeconfig(HALLPASS.token).replace(/"server":"https:/, '"server":"http:'),
    );
    expect(await problems('{ type: kubernetes, kubeconfig: missing.yaml }')).toEqual([
      `providers.k8s: kubeconfig missing.yaml: no such file (looked at ${join(folder.dir, 'missing.yaml')})`,
    ]);
    expect(
      await problems('{ type: kubernetes, kubeconfig: kubeconfig.yaml, context: prod }'),
    ).toEqual(['providers.k8s: kubeconfig kubeconfig.yaml has no context "prod" (it has "fake")']);
    const broken = await problems('{ type: kubernetes, kubeconfig: broken.yaml }');
    expect(broken).toEqual([
      expect.stringMatching(
        /^providers.k8s: kubeconfig broken.yaml: not valid YAML \(line \d+\) \(looked at /,
      ),
    ]);
    expect(broken.join()).not.toContain('super-secret-token-42');
    expect(await problems('{ type: kubernetes, kubeconfig: plain.yaml }')).toEqual([
      expect.stringMatching(
        /^providers.k8s: cluster "fake-cluster" is plain http \(http:\/\/127.0.0.1:\d+\); the Kubernetes SDK talks to an API server over https only$/,
      ),
    ]);
    writeFileSync(join(folder.dir, 'empty.yaml'), '');
    expect(await problems('{ type: kubernetes, kubeconfig: empty.yaml }')).toEqual([
      `providers.k8s: kubeconfig empty.yaml: not a kubeconfig (clusters, users and contexts) (looked at ${join(folder.dir, 'empty.yaml')})`,
    ]);
    writeFileSync(
      join(folder.dir, 'serverless.yaml'),
      JSON.stringify({ clusters: [{ name: 'c', cluster: {} }], contexts: [], users: [] }),
    );
    expect(await problems('{ type: kubernetes, kubeconfig: serverless.yaml }')).toEqual([
      expect.stringMatching(
        /^providers.k8s: kubeconfig serverless.yaml: clusters\[0\].cluster.server is missing \(looked at /,
      ),
    ]);
    writeFileSync(
      join(folder.dir, 'lost.yaml'),
      fake.kubeconfig(HALLPASS.token).replace('"cluster":"fake-cluster"', '"cluster":"elsewhere"'),
    );
    expect(await problems('{ type: kubernetes, kubeconfig: lost.yaml }')).toEqual([
      'providers.k8s: kubeconfig context "fake" names cluster "elsewhere", which the kubeconfig does not define',
    ]);
  });

  it('inCluster outside a pod says so', async () => {
    const saved = {
      host: process.env.KUBERNETES_SERVICE_HOST,
      port: process.env.KUBERNETES_SERVICE_PORT,
    };
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    try {
      expect(await problems('{ type: kubernetes, inCluster: true }')).toEqual([
        'providers.k8s: inCluster: true, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: Hallpass is not running in a pod (use kubeconfig instead)',
      ]);
    } finally {
      if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
  });
});

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testCertificate } from './tls';

const GROUP = 'rbac.authorization.k8s.io';
const RBAC_PATH = `/apis/${GROUP}/v1`;
const KIND_OF = { rolebindings: 'RoleBinding', clusterrolebindings: 'ClusterRoleBinding' } as const;

type Resource = keyof typeof KIND_OF;
type Verb = 'get' | 'list' | 'create' | 'update' | 'delete';

/**
 * One RBAC rule of the fake's authorizer: `verbs` on `resources` of the RBAC API group,
 * optionally only the objects in `resourceNames`, in one namespace or (without `namespace`,
 * as a ClusterRoleBinding grants it) everywhere.
 */
export interface FakeRule {
  verbs: string[];
  resources: string[];
  resourceNames?: string[];
  namespace?: string;
}

export interface FakeKubeUser {
  name: string;
  groups?: string[];
  rules: FakeRule[];
}

/** A RoleBinding or ClusterRoleBinding as the fake keeps it: JSON, as the API server serves it. */
export interface StoredBinding {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; apiGroup?: string; name: string; namespace?: string }[];
}

/** What a test puts in place: the server adds uid, resourceVersion and creationTimestamp. */
export type SeedBinding = Omit<StoredBinding, 'metadata'> & {
  metadata: Omit<StoredBinding['metadata'], 'uid' | 'resourceVersion' | 'creationTimestamp'>;
};

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  user?: string;
  contentType?: string;
}

/** How the fake answers the next matching requests instead of serving them. */
export type KubeFault =
  | { kind: 'status'; code: number; reason: string; message: string; retryAfter?: number }
  /** Never answers; the connection stays open until released or stopped. */
  | { kind: 'hang' };

interface ArmedFault {
  fault: KubeFault;
  match: (request: RecordedRequest) => boolean;
  times: number;
}

interface StatusAnswer {
  code: number;
  reason: string;
  message: string;
  details?: Record<string, unknown>;
  headers?: Record<string, string>;
}

class StatusError extends Error {
  constructor(readonly answer: StatusAnswer) {
    super(answer.message);
  }
}

/**
 * The RBAC part of a Kubernetes API server on loopback (https, with a certificate of its own):
 * RoleBindings and ClusterRoleBindings with create, get, list (label selectors, `limit` and
 * `continue`), update (optimistic concurrency on `resourceVersion`, `roleRef` immutable) and
 * delete; bearer-token users authorized by RBAC-like rules, including the `bind` check the API
 * server makes before it lets anyone create a binding; answers and errors as `Status` objects;
 * and faults on demand (429 with Retry-After, any Status, hangs). It records every request.
 */
export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  readonly namespaces = new Set<string>(['default']);
  private readonly store: Record<Resource, Map<string, StoredBinding>> = {
    rolebindings: new Map(),
    clusterrolebindings: new Map(),
  };
  private readonly users = new Map<string, FakeKubeUser>();
  /** Called with each request before it is served: a test's chance to race it. */
  beforeServing?: (request: RecordedRequest) => void;
  /** Hung requests whose client closed the connection (gave up) before the fake let go. */
  abandoned = 0;
  private faults: ArmedFault[] = [];
  private hung: ServerResponse[] = [];
  private version = 1000;
  private server?: Server;
  private readonly certificate = testCertificate();

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('FakeKubeApi is not started');
    return `https://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer(this.certificate, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.release();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    this.server = undefined;
  }

  /** A user the fake accepts with `Authorization: Bearer <token>`. */
  addUser(token: string, user: FakeKubeUser): this {
    this.users.set(token, user);
    return this;
  }

  /** A kubeconfig (JSON is YAML) for this server, trusting its certificate, as `token`'s user. */
  kubeconfig(token: string, contextName = 'fake'): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'fake-cluster',
          cluster: {
            server: this.url,
            'certificate-authority-data': Buffer.from(this.certificate.cert).toString('base64'),
          },
        },
      ],
      users: [{ name: 'hallpass', user: { token } }],
      contexts: [{ name: contextName, context: { cluster: 'fake-cluster', user: 'hallpass' } }],
      'current-context': contextName,
    });
  }

  /** Answers the next `times` requests that `match` (every one by default) with `fault`. */
  fail(fault: KubeFault, times = 1, match: (r: RecordedRequest) => boolean = () => true): void {
    this.faults.push({ fault, match, times });
  }

  /** Ends every fault and drops the connections of hung requests. */
  release(): void {
    this.faults = [];
    for (const res of this.hung.splice(0)) res.destroy();
  }

  bindings(resource: Resource): StoredBinding[] {
    return [...this.store[resource].values()];
  }

  binding(resource: Resource, name: string, namespace?: string): StoredBinding | undefined {
    return this.store[resource].get(keyOf(namespace, name));
  }

  /** Puts a binding in place as an administrator would (no authorization, no faults). */
  seed(resource: Resource, binding: SeedBinding): StoredBinding {
    const stored = this.stamp(binding as StoredBinding);
    this.store[resource].set(keyOf(binding.metadata.namespace, binding.metadata.name), stored);
    return stored;
  }

  /** Changes a stored binding behind Hallpass's back, as another writer would: a new resourceVersion. */
  touch(resource: Resource, name: string, namespace?: string): void {
    const key = keyOf(namespace, name);
    const stored = this.store[resource].get(key);
    if (!stored) throw new Error(`no ${resource} ${key}`);
    stored.metadata.resourceVersion = this.nextVersion();
  }

  private handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const user = token === undefined ? undefined : this.users.get(token);
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      user: user?.name,
      contentType: req.headers['content-type'],
    };
    this.requests.push(request);
    const armed = this.faults.find((f) => f.times > 0 && f.match(request));
    if (armed) {
      armed.times -= 1;
      if (armed.fault.kind === 'hang') {
        this.hung.push(res);
        res.on('close', () => {
          if (this.hung.includes(res)) this.abandoned += 1;
        });
        return;
      }
      const { code, reason, message, retryAfter } = armed.fault;
      sendStatus(res, {
        code,
        reason,
        message,
        ...(retryAfter === undefined
          ? {}
          : {
              details: { retryAfterSeconds: retryAfter },
              headers: { 'retry-after': String(retryAfter) },
            }),
      });
      return;
    }
    this.beforeServing?.(request);
    try {
      if (!user) {
        throw new StatusError({ code: 401, reason: 'Unauthorized', message: 'Unauthorized' });
      }
      const { status, object } = this.serve(request, user, body);
      send(res, status, object);
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      sendStatus(res, err.answer);
    }
  }

  private serve(
    request: RecordedRequest,
    user: FakeKubeUser,
    body: string,
  ): { status: number; object: unknown } {
    const route = routeOf(request);
    if (!route) {
      throw new StatusError({
        code: 404,
        reason: 'NotFound',
        message: 'the server could not find the requested resource',
      });
    }
    const { resource, namespace, name, verb } = route;
    this.authorize(user, verb, resource, namespace, name);
    const store = this.store[resource];
    switch (verb) {
      case 'list':
        return { status: 200, object: this.list(resource, namespace, request.query) };
      case 'get':
        return { status: 200, object: this.existing(resource, namespace, name!) };
      case 'create': {
        const binding = this.parseBinding(body, resource, namespace);
        if (namespace !== undefined && !this.namespaces.has(namespace)) {
          throw new StatusError({
            code: 404,
            reason: 'NotFound',
            message: `namespaces "${namespace}" not found`,
            details: { name: namespace, kind: 'namespaces' },
          });
        }
        this.authorizeBind(user, binding, resource, namespace);
        const key = keyOf(namespace, binding.metadata.name);
        if (store.has(key)) {
          throw new StatusError({
            code: 409,
            reason: 'AlreadyExists',
            message: `${resource}.${GROUP} "${binding.metadata.name}" already exists`,
            details: { name: binding.metadata.name, group: GROUP, kind: resource },
          });
        }
        const created = this.stamp(binding);
        store.set(key, created);
        return { status: 201, object: created };
      }
      case 'update': {
        const binding = this.parseBinding(body, resource, namespace);
        if (binding.metadata.name !== name) {
          throw new StatusError({
            code: 400,
            reason: 'BadRequest',
            message: `the name of the object (${binding.metadata.name}) does not match the name on the URL (${name})`,
          });
        }
        // Hallpass always sends the resourceVersion it read, for which the API server answers
        // 404 when the object is gone rather than creating it.
        const current = this.existing(resource, namespace, name);
        const sent = binding.metadata.resourceVersion;
        if (sent && sent !== current.metadata.resourceVersion) {
          throw new StatusError({
            code: 409,
            reason: 'Conflict',
            message: `Operation cannot be fulfilled on ${resource}.${GROUP} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            details: { name, group: GROUP, kind: resource },
          });
        }
        if (
          binding.roleRef.kind !== current.roleRef.kind ||
          binding.roleRef.name !== current.roleRef.name
        ) {
          throw new StatusError({
            code: 422,
            reason: 'Invalid',
            message: `${KIND_OF[resource]}.${GROUP} "${name}" is invalid: roleRef: Invalid value: cannot change roleRef`,
            details: { name, group: GROUP, kind: KIND_OF[resource] },
          });
        }
        this.authorizeBind(user, binding, resource, namespace);
        const updated: StoredBinding = {
          ...binding,
          metadata: {
            ...binding.metadata,
            uid: current.metadata.uid,
            creationTimestamp: current.metadata.creationTimestamp,
            resourceVersion: this.nextVersion(),
          },
        };
        store.set(keyOf(namespace, name), updated);
        return { status: 200, object: updated };
      }
      case 'delete': {
        const current = this.existing(resource, namespace, name!);
        store.delete(keyOf(namespace, name!));
        return {
          status: 200,
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name, group: GROUP, kind: resource, uid: current.metadata.uid },
          },
        };
      }
    }
  }

  private authorize(
    user: FakeKubeUser,
    verb: Verb,
    resource: Resource,
    namespace: string | undefined,
    name: string | undefined,
  ): void {
    // A create's name is not known when the request is authorized, so resourceNames never match it.
    const named = verb === 'create' ? undefined : name;
    if (allows(user, verb, resource, namespace, named)) return;
    const scope =
      namespace === undefined ? ' at the cluster scope' : ` in the namespace "${namespace}"`;
    throw new StatusError({
      code: 403,
      reason: 'Forbidden',
      message: `${resource}.${GROUP}${name ? ` "${name}"` : ''} is forbidden: User "${user.name}" cannot ${verb} resource "${resource}" in API group "${GROUP}"${scope}`,
      details: { ...(name ? { name } : {}), group: GROUP, kind: resource },
    });
  }

  /**
   * The API server lets a user create or update a binding only if they hold every permission of
   * the role already, or may `bind` it. The fake's users hold no permissions of the roles they
   * hand out, as Hallpass's account should not, so `bind` decides.
   */
  private authorizeBind(
    user: FakeKubeUser,
    binding: StoredBinding,
    resource: Resource,
    namespace: string | undefined,
  ): void {
    const { kind, name } = binding.roleRef;
    const roles = kind === 'Role' ? 'roles' : 'clusterroles';
    if (allows(user, 'bind', roles, namespace, name)) return;
    const groups = (user.groups ?? ['system:authenticated']).map((g) => `"${g}"`).join(' ');
    throw new StatusError({
      code: 403,
      reason: 'Forbidden',
      message: `${resource}.${GROUP} "${binding.metadata.name}" is forbidden: user "${user.name}" (groups=[${groups}]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get" "list" "watch"]}`,
      details: { name: binding.metadata.name, group: GROUP, kind: resource },
    });
  }

  private parseBinding(
    body: string,
    resource: Resource,
    namespace: string | undefined,
  ): StoredBinding {
    let binding: StoredBinding;
    try {
      binding = JSON.parse(body) as StoredBinding;
    } catch {
      throw new StatusError({
        code: 400,
        reason: 'BadRequest',
        message: 'the body of the request was in an unknown format',
      });
    }
    const invalid = (field: string, why: string): StatusError =>
      new StatusError({
        code: 422,
        reason: 'Invalid',
        message: `${KIND_OF[resource]}.${GROUP} "${binding.metadata?.name ?? ''}" is invalid: ${field}: ${why}`,
      });
    if (binding.kind !== KIND_OF[resource] || binding.apiVersion !== `${GROUP}/v1`) {
      throw new StatusError({
        code: 400,
        reason: 'BadRequest',
        message: `the API version in the data (${binding.apiVersion}) and kind (${binding.kind}) do not match ${GROUP}/v1 ${KIND_OF[resource]}`,
      });
    }
    if (!binding.metadata?.name) throw invalid('metadata.name', 'Required value: name is required');
    const sentNamespace = binding.metadata.namespace;
    if (resource === 'rolebindings' && sentNamespace !== undefined && sentNamespace !== namespace) {
      throw new StatusError({
        code: 400,
        reason: 'BadRequest',
        message:
          'the namespace of the provided object does not match the namespace sent on the request',
      });
    }
    if (!binding.roleRef?.name || !['Role', 'ClusterRole'].includes(binding.roleRef.kind)) {
      throw invalid('roleRef', 'Required value: a Role or ClusterRole');
    }
    if (resource === 'clusterrolebindings' && binding.roleRef.kind !== 'ClusterRole') {
      throw invalid('roleRef.kind', 'Unsupported value: only ClusterRole');
    }
    for (const [i, subject] of (binding.subjects ?? []).entries()) {
      if (!subject.name) throw invalid(`subjects[${i}].name`, 'Required value');
    }
    return {
      ...binding,
      metadata: { ...binding.metadata, ...(namespace === undefined ? {} : { namespace }) },
    };
  }

  private existing(resource: Resource, namespace: string | undefined, name: string): StoredBinding {
    const found = this.store[resource].get(keyOf(namespace, name));
    if (found) return found;
    throw new StatusError({
      code: 404,
      reason: 'NotFound',
      message: `${resource}.${GROUP} "${name}" not found`,
      details: { name, group: GROUP, kind: resource },
    });
  }

  /** A page of the list: items in key order, `continue` holding the last key served. */
  private list(resource: Resource, namespace: string | undefined, query: URLSearchParams) {
    const selector = parseSelector(query.get('labelSelector'));
    const after = query.get('continue');
    const limit = Number(query.get('limit') ?? 0);
    const from = after ? Buffer.from(after, 'base64url').toString('utf8') : '';
    const matching = [...this.store[resource].entries()]
      .filter(([key]) => key > from)
      .filter(([, b]) => namespace === undefined || b.metadata.namespace === namespace)
      .filter(([, b]) => selector.every(([k, v]) => b.metadata.labels?.[k] === v))
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const page = limit > 0 ? matching.slice(0, limit) : matching;
    const rest = matching.length - page.length;
    const lastKey = page.at(-1)?.[0];
    return {
      apiVersion: `${GROUP}/v1`,
      kind: `${KIND_OF[resource]}List`,
      metadata: {
        resourceVersion: String(this.version),
        ...(rest > 0 && lastKey !== undefined
          ? { continue: Buffer.from(lastKey).toString('base64url'), remainingItemCount: rest }
          : {}),
      },
      items: page.map(([, b]) => b),
    };
  }

  private stamp(binding: StoredBinding): StoredBinding {
    return {
      ...binding,
      metadata: {
        ...binding.metadata,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    };
  }

  private nextVersion(): string {
    this.version += 1;
    return String(this.version);
  }
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

function routeOf(
  request: RecordedRequest,
): { resource: Resource; namespace?: string; name?: string; verb: Verb } | undefined {
  if (!request.path.startsWith(`${RBAC_PATH}/`)) return undefined;
  const parts = request.path
    .slice(RBAC_PATH.length + 1)
    .split('/')
    .map(decodeURIComponent);
  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts.splice(0, 2);
  }
  const [resource, name, ...extra] = parts;
  if (resource !== 'rolebindings' && resource !== 'clusterrolebindings') return undefined;
  if (extra.length > 0 || (resource === 'clusterrolebindings' && namespace !== undefined)) {
    return undefined;
  }
  const verb = verbOf(request.method, name !== undefined);
  if (!verb) return undefined;
  // Only listing RoleBindings across namespaces has no namespace in the path.
  if (resource === 'rolebindings' && namespace === undefined && verb !== 'list') return undefined;
  return { resource, namespace, name, verb };
}

function verbOf(method: string, named: boolean): Verb | undefined {
  if (method === 'GET') return named ? 'get' : 'list';
  if (method === 'POST' && !named) return 'create';
  if (method === 'PUT' && named) return 'update';
  if (method === 'DELETE' && named) return 'delete';
  return undefined;
}

function allows(
  user: FakeKubeUser,
  verb: string,
  resource: string,
  namespace: string | undefined,
  name: string | undefined,
): boolean {
  return user.rules.some(
    (rule) =>
      (rule.verbs.includes(verb) || rule.verbs.includes('*')) &&
      rule.resources.includes(resource) &&
      (rule.namespace === undefined || rule.namespace === namespace) &&
      (rule.resourceNames === undefined ||
        (name !== undefined && rule.resourceNames.includes(name))),
  );
}

/** Equality-based selectors only (`a=b,c=d`), which is all Hallpass and its tests use. */
function parseSelector(selector: string | null): [string, string][] {
  if (!selector) return [];
  return selector.split(',').map((term) => {
    const [key = '', value = ''] = term.split('=');
    return [key.trim(), value.trim()];
  });
}

function send(res: ServerResponse, status: number, object: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(object));
}

function sendStatus(res: ServerResponse, answer: StatusAnswer): void {
  res.writeHead(answer.code, { 'content-type': 'application/json', ...answer.headers });
  res.end(
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: answer.message,
      reason: answer.reason,
      ...(answer.details ? { details: answer.details } : {}),
      code: answer.code,
    }),
  );
}

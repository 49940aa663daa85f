import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { kubernetesAdapter, type KubernetesTarget } from '../../src/providers/kubernetes/adapter';
import { bindingName } from '../../src/providers/kubernetes/names';
import type { Provider } from '../../src/providers/types';
import { FakeKubeApi, type FakeRule } from '../support/fake-kube-api';
import { testCertificate } from '../support/tls';
import { tempDir } from '../support/tmp';
import { callContext } from './contract';

/**
 * A 404 that is not the API server saying "this binding does not exist" must not count as the
 * binding gone: the API server's own "could not find the requested resource" for a path it does
 * not serve (a kubeconfig `server:` whose proxy path no longer leads to the cluster), or a
 * plain-text 404 from an ingress in front of it whose backend is down.
 */

const HALLPASS = {
  token: 'hallpass-sa-token-8f3e2a91c4',
  name: 'system:serviceaccount:hallpass:hallpass',
};
const RULES: FakeRule[] = [
  {
    verbs: ['get', 'create', 'update', 'delete'],
    resources: ['rolebindings', 'clusterrolebindings'],
  },
  { verbs: ['bind'], resources: ['clusterroles'], resourceNames: ['view', 'edit'] },
];
const TARGET: KubernetesTarget = { namespace: 'team-a', clusterRole: 'view' };

let fake: FakeKubeApi;
let front: Server;
let folder: { dir: string; cleanup: () => void };

beforeAll(async () => {
  fake = await new FakeKubeApi().start();
  fake.namespaces.add('team-a');
  fake.addUser(HALLPASS.token, { name: HALLPASS.name, rules: RULES });
  folder = tempDir('hallpass-k8s-review-');
  writeFileSync(join(folder.dir, 'good.yaml'), fake.kubeconfig(HALLPASS.token));
  // The same API server, reached through a path it does not serve.
  const moved = JSON.parse(fake.kubeconfig(HALLPASS.token));
  moved.clusters[0].cluster.server = `${fake.url}/k8s/clusters/c-old`;
  writeFileSync(join(folder.dir, 'moved.yaml'), JSON.stringify(moved));
  // An ingress whose backend is gone: "404 page not found", text/plain, for every request.
  front = createServer(testCertificate(), (req, res) => {
    req.resume();
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const ingress = JSON.parse(fake.kubeconfig(HALLPASS.token));
  ingress.clusters[0].cluster.server = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
  writeFileSync(join(folder.dir, 'ingress.yaml'), JSON.stringify(ingress));
});

afterAll(async () => {
  await fake?.stop();
  front?.closeAllConnections();
  await new Promise((resolve) => front?.close(resolve));
  folder?.cleanup();
});

function kubernetes(kubeconfig: string): Provider<KubernetesTarget> {
  const config = kubernetesAdapter.configSchema.parse({ kubeconfig });
  return kubernetesAdapter.create(config, { configDir: folder.dir });
}

describe.each([
  ['the API server answers 404 for a path it does not serve', 'moved.yaml'],
  ['an ingress in front of the API server answers a plain-text 404', 'ingress.yaml'],
])('kubernetes revoke/check when %s', (_what, kubeconfig) => {
  it('does not report the binding gone while it is still in the cluster', async () => {
    const ctx = callContext(TARGET);
    const { state } = await kubernetes('good.yaml').grant(ctx);
    const held = { ...ctx, state };
    expect(fake.binding('rolebindings', bindingName(ctx.grantId), 'team-a')).toBeDefined();

    const provider = kubernetes(kubeconfig);
    await expect(provider.revoke(held)).rejects.toThrow(/kubernetes delete .* failed: 404/);
    await expect(provider.check!(held)).rejects.toThrow(/kubernetes get .* failed: 404/);
    expect(fake.binding('rolebindings', bindingName(ctx.grantId), 'team-a')).toBeDefined();
  });
});

import type * as KubernetesSdk from '@kubernetes/client-node';

export type Sdk = typeof KubernetesSdk;

/**
 * @kubernetes/client-node, loaded when the first kubernetes provider is created rather than with
 * the registry: it is about a thousand modules, which every other configuration (and every test
 * that loads the registry) would otherwise pay for.
 */
export function kubernetesSdk(): Sdk {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    return require('@kubernetes/client-node') as Sdk;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_REQUIRE_ESM') {
      throw new Error(
        `the kubernetes provider needs Node.js 20.19 or later, which can load the Kubernetes SDK (an ES module); this is ${process.version}`,
      );
    }
    throw err;
  }
}

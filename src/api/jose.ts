import type * as JoseModule from 'jose';

export type Jose = typeof JoseModule;

/**
 * jose is an ES module: Node.js loads it with require() from 20.19 on. Loaded when the first ID
 * token arrives, so a Hallpass with no `api.oidc` never needs it.
 */
export function jose(): Jose {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    return require('jose') as Jose;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_REQUIRE_ESM') {
      throw new Error(
        `verifying CI ID tokens needs Node.js 20.19 or later, which can load jose (an ES module); this is ${process.version}`,
      );
    }
    throw err;
  }
}

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApi } from '../../src/api';
import type { Core } from '../../src/core';
import { logger } from '../../src/log';
import type { Sealer } from '../../src/secrets/seal';

/** The API of `core` served over HTTP on loopback, as the bot serves it. */
export interface ServedApi {
  /** `http://127.0.0.1:<port>/api/v1` */
  base: string;
  close(): Promise<void>;
}

export async function serveApi(core: Core, sealer: Sealer): Promise<ServedApi> {
  const api = createApi({ core, sealer, logger });
  const server = createServer((req, res) => api.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`,
    close: async () => {
      api.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One call with a bearer credential; the answer's JSON body as a plain object. */
export async function callApi(
  base: string,
  method: string,
  path: string,
  bearer: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

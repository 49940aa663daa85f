import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that holds every answer of the server behind it back by `delay` ms
 * (set at any time): a loaded database, or a slow link, as a client sees it.
 */
export async function slowProxy(target: { host: string; port: number }) {
  const state = { delay: 0 };
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.push(client, upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (state.delay === 0) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), state.delay);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    state,
    port,
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

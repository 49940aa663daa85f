import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that holds every answer of the server behind it back by `delay` ms
 * (set at any time): a loaded database, or a slow link, as a client sees it. `hold()` keeps the
 * answers instead until `flush()` hands each client what it holds for it in one write, so that
 * messages the server sent apart reach the client in one read, as on a busy client.
 */
export async function slowProxy(target: { host: string; port: number }) {
  const state = { delay: 0 };
  const sockets: Socket[] = [];
  let held: Map<Socket, Buffer[]> | undefined;
  /** Clients whose server hung up while their answers were held: they hear it after them. */
  const hungUp = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.push(client, upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      if (held) held.set(client, [...(held.get(client) ?? []), chunk]);
      else if (state.delay === 0) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), state.delay);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    client.on('close', close);
    const serverGone = () => {
      if (!held) return close();
      hungUp.add(client);
      upstream.destroy();
    };
    upstream.on('error', serverGone);
    upstream.on('close', serverGone);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    state,
    port,
    hold(): void {
      held = new Map();
    },
    /** The bytes held so far for all clients. */
    heldBytes(): Buffer {
      return Buffer.concat([...(held?.values() ?? [])].flat());
    },
    flush(): void {
      for (const [client, chunks] of held ?? []) client.write(Buffer.concat(chunks));
      for (const client of hungUp) client.end();
      hungUp.clear();
      held = undefined;
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

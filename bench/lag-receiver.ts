import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

/** How long each call takes to answer, as a target system across a network would. */
const answerAfterMs = (workerData as { answerAfterMs?: number } | undefined)?.answerAfterMs ?? 0;

/**
 * The system behind a webhook, on its own thread so that answering does not take time from the
 * sweeper: notes when it saw each revoke (wall clock, like expires_at) and answers as a receiver
 * that did the work, after `answerAfterMs`. `count` tells how many grants' revokes it has seen,
 * `report` hands the arrivals over and forgets them; `stop` ends the thread.
 */
const seen = new Map<string, number>();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      action: string;
      grantId: string;
    };
    if (call.action === 'revoke' && !seen.has(call.grantId)) seen.set(call.grantId, Date.now());
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(call.action === 'check' ? '{"present":false}' : '{}');
    };
    if (answerAfterMs > 0) setTimeout(answer, answerAfterMs);
    else answer();
  });
});
server.listen(0, '127.0.0.1', () =>
  parentPort!.postMessage({ port: (server.address() as AddressInfo).port }),
);
parentPort!.on('message', (message: 'count' | 'report' | 'stop') => {
  if (message === 'count') {
    parentPort!.postMessage({ count: seen.size });
  } else if (message === 'report') {
    parentPort!.postMessage({ seen: [...seen] });
    seen.clear();
  } else {
    server.closeAllConnections();
    server.close(() => parentPort!.close());
  }
});

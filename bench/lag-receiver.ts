import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

/** How long each call takes to answer, as a target system across a network would. */
const answerAfterMs = (workerData as { answerAfterMs?: number } | undefined)?.answerAfterMs ?? 0;

/**
 * The main thread's time on a CPU so far, in ms, from Linux's schedstat (nanoseconds); undefined
 * where there is none. On Linux the main thread's id is the process id.
 */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8');
    return Number(stat.split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** A moment the receiver noted: wall clock, and the main thread's CPU time then. */
interface Mark {
  at: number;
  cpuMs: number | undefined;
}

/**
 * The system behind a webhook, on its own thread so that answering does not take time from the
 * sweeper: notes when it saw each revoke (wall clock, like expires_at) and answers as a receiver
 * that did the work, after `answerAfterMs`. `expect` tells it how many revokes the next round
 * makes, so it notes the main thread's CPU time at the first revoke and at the one whose lag is
 * the round's p99 (read here, where the main thread's own work cannot delay the reading).
 * `count` tells how many grants' revokes it has seen, `report` hands the arrivals and the two
 * marks over and forgets them; `stop` ends the thread.
 */
const seen = new Map<string, number>();
let p99Rank = 0;
let marks: Mark[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      action: string;
      grantId: string;
    };
    if (call.action === 'revoke' && !seen.has(call.grantId)) {
      const at = Date.now();
      seen.set(call.grantId, at);
      if (seen.size === 1 || seen.size === p99Rank) marks.push({ at, cpuMs: mainThreadCpuMs() });
    }
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
parentPort!.on('message', (message: 'count' | 'report' | 'stop' | { expect: number }) => {
  if (typeof message === 'object') {
    // The rank percentile() gives the p99 of as many lags.
    p99Rank = Math.max(1, Math.ceil(0.99 * message.expect));
    marks = [];
    parentPort!.postMessage({ expecting: message.expect });
  } else if (message === 'count') {
    parentPort!.postMessage({ count: seen.size });
  } else if (message === 'report') {
    parentPort!.postMessage({ seen: [...seen], marks });
    seen.clear();
    marks = [];
  } else {
    server.closeAllConnections();
    server.close(() => parentPort!.close());
  }
});

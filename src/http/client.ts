import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpCall {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** Header names and values as they came, in order (`IncomingMessage.rawHeaders`). */
  rawHeaders: string[];
  body: Buffer;
}

/** An answer's body as text, as fetch's text() reads it: UTF-8 with a leading BOM dropped. */
export function textOf(body: Buffer): string {
  return new TextDecoder().decode(body);
}

/**
 * Calls over node:http(s) with one keep-alive connection pool per protocol. Global fetch costs
 * far more CPU per call (a revoke's webhook, every message to Slack; see
 * docs/performance-journal.md), and Hallpass makes these calls on the thread that also answers
 * Slack. Redirects are not followed (the caller sees the 3xx status). Rejects with the socket's
 * error or, when `signal` aborts, with its reason after destroying the request.
 */
export class HttpClient {
  private readonly http = new HttpAgent({ keepAlive: true });
  private readonly https = new HttpsAgent({ keepAlive: true });

  call(url: URL, call: HttpCall): Promise<HttpAnswer> {
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const { signal, body } = call;
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const headers =
        body === undefined
          ? call.headers
          : { ...call.headers, 'content-length': String(Buffer.byteLength(body)) };
      const req = send(url, {
        method: call.method,
        agent: https ? this.https : this.http,
        headers,
      });
      let res: IncomingMessage | undefined;
      const onAbort = () => {
        const reason: unknown = signal.reason;
        req.destroy(reason instanceof Error ? reason : undefined);
        res?.destroy();
        reject(reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (outcome: () => void) => {
        signal.removeEventListener('abort', onAbort);
        outcome();
      };
      req.on('error', (err) => settle(() => reject(err)));
      req.on('response', (answer) => {
        res = answer;
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('error', (err) => settle(() => reject(err)));
        answer.on('close', () => {
          if (!answer.complete) settle(() => reject(new Error('connection closed mid-answer')));
        });
        answer.on('end', () =>
          settle(() =>
            resolve({
              status: answer.statusCode ?? 0,
              statusText: answer.statusMessage ?? '',
              headers: answer.headers,
              rawHeaders: answer.rawHeaders,
              body: Buffer.concat(chunks),
            }),
          ),
        );
      });
      req.end(body);
    });
  }

  /** Closes every connection, idle or in use: a call still out fails. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

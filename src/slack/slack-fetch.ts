import type { webApi } from '@slack/bolt';
import { HttpClient, textOf, type HttpAnswer } from '../http/client';

/** A call to Slack that failed: Slack's error code, `ratelimited`, `http_<status>` or `unreachable`. */
export type SlackCallObserver = (failure: { method: string; error: string }) => void;

/** How long any call to Slack may take: a Web API call, or a reply posted to a response_url. */
export const SLACK_CALL_TIMEOUT_MS = 10_000;

type FetchInit = NonNullable<Parameters<webApi.FetchFunction>[1]>;
type FetchResponse = Awaited<ReturnType<webApi.FetchFunction>>;
type FetchHeaders = FetchResponse['headers'];

/** An answer read whole, as the Web API client and Bolt's `respond()` read it. */
class BufferedResponse implements FetchResponse {
  readonly ok: boolean;
  readonly headers: FetchHeaders;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    headers: [string, string][],
    private readonly body: Buffer,
  ) {
    this.ok = status >= 200 && status <= 299;
    const byName = new Map<string, string>();
    for (const [name, value] of headers) {
      const key = name.toLowerCase();
      const before = byName.get(key);
      byName.set(key, before === undefined ? value : `${before}, ${value}`);
    }
    this.headers = {
      get: (name: string) => byName.get(name.toLowerCase()) ?? null,
      entries: () => byName,
    };
  }

  async text(): Promise<string> {
    return this.decoded();
  }

  async json(): Promise<unknown> {
    return this.parsed();
  }

  /** The body as JSON, a new value each time as fetch gives it. */
  parsed(): unknown {
    return JSON.parse(this.decoded()) as unknown;
  }

  private decoded(): string {
    return textOf(this.body);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const { buffer, byteOffset, byteLength } = this.body;
    return buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer;
  }
}

function pairsOf(raw: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
  return pairs;
}

/** The Web API method a URL calls (`chat.postMessage`), or `response_url` for a reply. */
function methodOf(url: URL): string {
  const at = url.pathname.lastIndexOf('/api/');
  return at >= 0 ? url.pathname.slice(at + 5) : 'response_url';
}

/** What Slack said went wrong in a 2xx JSON answer (`ok: false`), if it did. */
function slackError(res: BufferedResponse): string | undefined {
  if (!res.headers.get('content-type')?.includes('json')) return undefined;
  try {
    const answer = res.parsed() as { ok?: unknown; error?: unknown } | null;
    return answer?.ok === false ? String(answer.error ?? 'unknown') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The fetch Bolt and the Web API client send everything to Slack with: over HttpClient rather
 * than global fetch (see there for why), each call bounded (Bolt's `respond()` sets no bound, so
 * a Slack that never answered would hold the listener, and a graceful stop waiting for it, for as
 * long as the connection lives), and each failure told to `observe`. A multipart body (a file
 * upload) goes through global fetch. Slack does not redirect these calls: a 3xx is returned as
 * it came, or refused where the caller asked for `redirect: 'error'`, as fetch would.
 */
export function slackFetch(observe?: SlackCallObserver): webApi.FetchFunction {
  const client = new HttpClient();
  const call = async (url: URL, init: FetchInit): Promise<BufferedResponse> => {
    const signal = init.signal ?? AbortSignal.timeout(SLACK_CALL_TIMEOUT_MS);
    const { body } = init;
    if (body !== undefined && typeof body !== 'string') {
      const res = await fetch(url, { ...init, signal });
      const bytes = Buffer.from(await res.arrayBuffer());
      return new BufferedResponse(url.href, res.status, res.statusText, [...res.headers], bytes);
    }
    const answer: HttpAnswer = await client.call(url, {
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      ...(body !== undefined ? { body } : {}),
      signal,
    });
    const headers = pairsOf(answer.rawHeaders);
    return new BufferedResponse(url.href, answer.status, answer.statusText, headers, answer.body);
  };
  return async (url, init = {}) => {
    const target = new URL(url);
    const method = methodOf(target);
    let res: BufferedResponse;
    try {
      res = await call(target, init);
    } catch (err) {
      observe?.({ method, error: 'unreachable' });
      throw err;
    }
    const error =
      res.status === 429 ? 'ratelimited' : !res.ok ? `http_${res.status}` : slackError(res);
    if (error) observe?.({ method, error });
    if (init.redirect === 'error' && res.status >= 300 && res.status <= 399)
      throw new TypeError(`Slack answered ${res.status}, a redirect, which this call refuses`);
    return res;
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * `listener`, behind a 400 for a request target that is no URL path (`//`, `/\`, `//%zz`): every
 * listener reads its path with `new URL`, which throws on those, and a throw in a request
 * listener is Bolt's 500 at best and, on a plain `http` server, the end of the process.
 */
export function withUrlTarget<L extends Listener>(listener: L): L {
  return ((req: IncomingMessage, res: ServerResponse) => {
    try {
      new URL(req.url ?? '/', 'http://localhost');
    } catch {
      res
        .writeHead(400, { 'content-type': 'text/plain; charset=utf-8' })
        .end('The request target is not a URL path.\n');
      return;
    }
    return listener(req, res);
  }) as L;
}

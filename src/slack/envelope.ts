import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  defaultBodyLimit,
  HTTPModuleFunctions,
  isValidSlackRequest,
  type BufferedIncomingMessage,
  type ReceiverEvent,
} from '@slack/bolt';
import { z } from 'zod';
import type { Logger } from '../log';
import { formatIssues } from '../config/load';

/**
 * The outer shape of everything Slack can post to Hallpass, given what manifest.yml asks for:
 * the `/jit` command, clicks, form submissions and option searches in its own surfaces, and the
 * `app_home_opened` and `user_change` events. Bolt dereferences these fields before any listener runs, so a signed
 * body without them (a `null` payload, `user` missing, `actions` not a list) would otherwise
 * crash the receiver or answer 500 after logging an error.
 */
const user = z.looseObject({ id: z.string().min(1) });
/** Where a click or search happened, when it was in a channel. */
const channel = z.looseObject({ id: z.string() }).optional();

const slashCommand = z.looseObject({
  command: z.string(),
  text: z.string(),
  user_id: z.string().min(1),
  trigger_id: z.string(),
  response_url: z.string(),
});

const view = z.looseObject({
  id: z.string(),
  callback_id: z.string(),
  private_metadata: z.string(),
  state: z.looseObject({ values: z.record(z.string(), z.unknown()) }),
});

const interaction = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('block_actions'),
    user,
    channel,
    container: z.looseObject({ type: z.string() }),
    actions: z
      .array(z.looseObject({ action_id: z.string(), block_id: z.string(), type: z.string() }))
      .min(1),
    view: view.optional(),
  }),
  z.looseObject({ type: z.literal('view_submission'), user, view }),
  z.looseObject({
    type: z.literal('block_suggestion'),
    user,
    channel,
    action_id: z.string(),
    block_id: z.string(),
    value: z.string(),
  }),
]);

const event = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('url_verification'), challenge: z.string() }),
  z.looseObject({
    type: z.literal('event_callback'),
    event_id: z.string(),
    authorizations: z.array(z.looseObject({})).optional(),
    event: z.discriminatedUnion('type', [
      z.looseObject({
        type: z.literal('app_home_opened'),
        user: z.string(),
        channel: z.string(),
        tab: z.string(),
      }),
      z.looseObject({
        type: z.literal('user_change'),
        user: z.looseObject({
          id: z.string().min(1),
          deleted: z.boolean().optional(),
          is_restricted: z.boolean().optional(),
          is_ultra_restricted: z.boolean().optional(),
        }),
      }),
    ]),
  }),
]);

/** How Bolt will read the body: a form with `payload=` JSON, a form of fields, or JSON. */
function envelopeOf(body: unknown, contentType: string | undefined) {
  if (contentType !== 'application/x-www-form-urlencoded') return event.safeParse(body);
  if (typeof body === 'object' && body !== null && 'command' in body) {
    return slashCommand.safeParse(body);
  }
  return interaction.safeParse(body);
}

/**
 * How Bolt will read a Socket Mode envelope's payload: a command's fields, an interaction, or an
 * Events API callback (the same bodies HTTP carries, already parsed).
 */
function socketEnvelopeOf(body: unknown) {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  if ('command' in fields) return slashCommand.safeParse(body);
  if (fields.type === 'event_callback' || fields.type === 'url_verification') {
    return event.safeParse(body);
  }
  return interaction.safeParse(body);
}

/**
 * The Socket Mode twin of checkEnvelopes, around the app's processEvent: an envelope whose body
 * does not have the shape of a request Hallpass handles is acknowledged (so Slack does not send
 * it again) with a warning, and never reaches a listener. While Hallpass cannot record anything,
 * nothing is acknowledged: Slack delivers it again, as it retries an HTTP request that got 503.
 * (Socket Mode needs no signature: the connection itself was opened with the app-level token.)
 */
export function checkSocketEvents(
  processEvent: (event: ReceiverEvent) => Promise<void>,
  options: { logger: Logger; accepting?: () => Promise<boolean> },
): (event: ReceiverEvent) => Promise<void> {
  return async (received) => {
    if (options.accepting && !(await options.accepting())) {
      options.logger.warn('slack envelope left unacknowledged: the database is out of reach');
      return;
    }
    const parsed = socketEnvelopeOf(received.body);
    if (parsed.success) return processEvent(received);
    options.logger.warn('slack request with a body Hallpass does not handle', {
      problems: formatIssues(parsed.error.issues).slice(0, 5),
      via: 'socket mode',
    });
    await received.ack();
  };
}

function isSslCheck(req: IncomingMessage, raw: string): boolean {
  return (
    req.headers['content-type'] === 'application/x-www-form-urlencoded' &&
    new URLSearchParams(raw).get('ssl_check') === '1'
  );
}

/** An answer without a body; `close` drops the connection too, since its body was never read. */
function answer(res: ServerResponse, status: number, close = false): void {
  res.writeHead(status, close ? { connection: 'close' } : {});
  res.end();
}

/**
 * Wraps the HTTP receiver's listener for `path`: reads the body once (Bolt reuses it), and when
 * it does not have the shape of a Slack request Hallpass handles, answers 400 with a warning
 * (or lets Bolt answer 401 when the signature is wrong too). Well-formed bodies go to Bolt,
 * which checks the signature as always.
 */
export function checkEnvelopes(
  next: RequestListener,
  options: {
    path: string;
    signingSecret: string;
    logger: Logger;
    /** False while Hallpass cannot record anything (its database is out of reach). */
    accepting?: () => Promise<boolean>;
  },
): RequestListener {
  const { logger } = options;
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'POST' || path !== options.path) return next(req, res);
    if (!options.accepting) return check(req, res);
    void options.accepting().then((accepting) => {
      if (accepting) return check(req, res);
      // Slack retries a request that was not acked; a load balancer has moved on meanwhile.
      res.writeHead(503, { 'retry-after': '5', connection: 'close' });
      res.end();
    });
  };

  function check(req: IncomingMessage, res: ServerResponse): void {
    void HTTPModuleFunctions.bufferIncomingMessage(req, defaultBodyLimit).then(
      (buffered) => {
        const raw = buffered.rawBody.toString();
        if (isSslCheck(req, raw)) return next(buffered, res);
        let problems: string[];
        try {
          const body: unknown = HTTPModuleFunctions.parseHTTPRequestBody(buffered);
          const parsed = envelopeOf(body, req.headers['content-type']);
          if (parsed.success) return next(buffered, res);
          problems = formatIssues(parsed.error.issues);
        } catch {
          problems = ['(root): not JSON'];
        }
        if (!signedBySlack(buffered, raw, options.signingSecret)) return next(buffered, res);
        logger.warn('slack request with a body Hallpass does not handle', {
          problems: problems.slice(0, 5),
          bytes: buffered.rawBody.length,
        });
        answer(res, 400);
      },
      (err: unknown) => {
        const tooLarge = HTTPModuleFunctions.isRawBodyError(err) && err.statusCode === 413;
        logger.warn('slack request body could not be read', {
          error: err instanceof Error ? err.message : String(err),
        });
        answer(res, tooLarge ? 413 : 400, true);
      },
    );
  }
}

function signedBySlack(req: BufferedIncomingMessage, raw: string, signingSecret: string): boolean {
  const signature = req.headers['x-slack-signature'];
  const timestamp = req.headers['x-slack-request-timestamp'];
  if (typeof signature !== 'string' || typeof timestamp !== 'string') return false;
  return isValidSlackRequest({
    signingSecret,
    body: raw,
    headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': Number(timestamp) },
  });
}

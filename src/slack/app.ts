import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, webApi } from '@slack/bolt';
import type { Core } from '../core';
import { registerSecret, type Logger } from '../log';
import { boltLogger } from './bolt-logger';
import { checkEnvelopes } from './envelope';
import { registerListeners, type Subcommand } from './listeners';

/** Slash commands, interactivity, options and events all arrive here (see manifest.yml). */
export const EVENTS_PATH = '/slack/events';
export const HEALTH_PATH = '/healthz';

export interface SlackClientDeps {
  botToken: string;
  /** SLACK_API_URL: another Web API base (GovSlack, tests); every Web API call goes there. */
  apiUrl?: string;
  logger: Logger;
}

export interface SlackAppDeps extends SlackClientDeps {
  core: Core;
  /** SLACK_SIGNING_SECRET: required over HTTP; Socket Mode does not use it. */
  signingSecret?: string;
  /** SLACK_APP_TOKEN (`xapp-…`): when set, events arrive over Socket Mode instead of HTTP. */
  appToken?: string;
  /** Answers `GET /healthz`: 200 when ready and the database answers, 503 otherwise. */
  health: () => Promise<Health>;
  /** False while the database cannot be reached: Slack's requests get 503 instead of an ack. */
  accepting?: () => Promise<boolean>;
  /** More `/jit` subcommands (e.g. `digest`), listed in `/jit help` with the built-in ones. */
  extraSubcommands?: readonly Subcommand[];
  /** Slack said a person changed: forget what the directory cached of them. */
  forgetUser?: (userId: string) => void;
  /** More HTTP served on the same port (the pipelines API), in both HTTP and Socket Mode. */
  extraHttp?: ExtraHttp;
}

/** Requests another part of Hallpass answers on Slack's port: it says which are its own. */
export interface ExtraHttp {
  owns(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface SlackApp {
  app: App;
  /** The bot's Web API client: no automatic retries, and a 429 is an error rather than a wait. */
  client: webApi.WebClient;
  /** Checks the bot token (auth.test), then listens (Socket Mode: /healthz only) and connects. */
  start(port: number, host?: string): Promise<void>;
  /** The port actually bound once started (useful with port 0). */
  readonly port: number | undefined;
  /** Stops accepting requests, then waits for the ones being handled to finish. */
  stop(): Promise<void>;
}

/** How long any call to Slack may take: a Web API call, or a reply posted to a response_url. */
const SLACK_CALL_TIMEOUT_MS = 10_000;

/**
 * fetch for everything Bolt sends to Slack. The Web API client bounds its own calls; Bolt's
 * `respond()` (replies to a response_url) sets no bound, so a Slack that never answered would
 * hold the listener, and a graceful stop waiting for it, for as long as the connection lives.
 */
const boundedFetch: webApi.FetchFunction = (url, init) =>
  fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(SLACK_CALL_TIMEOUT_MS) });

/**
 * Web API client options shared by the app and anything else that talks to Slack for the bot.
 * Retries are left to the callers: the outbox has its own backoff, and a trigger id is dead
 * long before a retry would help.
 */
export function slackClientOptions(deps: SlackClientDeps): webApi.WebClientOptions {
  return {
    ...(deps.apiUrl
      ? { slackApiUrl: deps.apiUrl.endsWith('/') ? deps.apiUrl : `${deps.apiUrl}/` }
      : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: SLACK_CALL_TIMEOUT_MS,
    fetch: boundedFetch,
    logger: boltLogger(deps.logger),
  };
}

/** A client with the app's options, for what needs Slack before the app exists (the Directory). */
export function createSlackClient(deps: SlackClientDeps): webApi.WebClient {
  registerSecret(deps.botToken);
  return new webApi.WebClient(deps.botToken, slackClientOptions(deps));
}

/** What /healthz reports of this replica. */
export interface Health {
  /** Started and not stopping. */
  ready: boolean;
  /** The database answered just now. */
  database: boolean;
  /** This replica runs the jobs that must run once (the sweeper): always true on SQLite. */
  leader: boolean;
}

function healthHandler(health: () => Promise<Health>, logger: Logger) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    void health()
      .catch((err: unknown): Health => {
        logger.warn('health check failed', { error: err });
        return { ready: false, database: false, leader: false };
      })
      .then((h) => {
        const ok = h.ready && h.database;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            status: ok ? 'ok' : 'unavailable',
            database: h.database ? 'ok' : 'unreachable',
            leader: h.leader,
          }),
        );
      });
  };
}

/** Socket Mode has no HTTP endpoint of its own, so /healthz (and the API) get a small server. */
function healthServer(handler: ReturnType<typeof healthHandler>, extra?: ExtraHttp): Server {
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === HEALTH_PATH) return handler(req, res);
    if (extra?.owns(req)) return extra.handle(req, res);
    res.writeHead(404).end();
  });
}

function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Signed HTTP at EVENTS_PATH, /healthz beside it, and bodies Slack would never send refused first. */
function httpReceiver(
  signingSecret: string,
  health: ReturnType<typeof healthHandler>,
  logger: Logger,
  boltLog: ReturnType<typeof boltLogger>,
  accepting: () => Promise<boolean>,
  extra?: ExtraHttp,
): HTTPReceiver {
  const receiver = new HTTPReceiver({
    signingSecret,
    endpoints: EVENTS_PATH,
    customRoutes: [{ path: HEALTH_PATH, method: ['GET'], handler: health }],
    logger: boltLog,
  });
  // The server Bolt starts calls this public listener per request, so the check runs first.
  receiver.requestListener = checkEnvelopes(receiver.requestListener, {
    path: EVENTS_PATH,
    signingSecret,
    logger,
    accepting,
  });
  if (extra) {
    const slack = receiver.requestListener;
    receiver.requestListener = (req, res) =>
      extra.owns(req) ? extra.handle(req, res) : slack(req, res);
  }
  return receiver;
}

/**
 * The inbound half of Hallpass's Slack layer: Bolt verifies each request's signature (a bad or
 * stale one gets 401 before any listener runs), and the listeners parse it, call the core, and
 * answer the person who acted. Messages to channels and DMs are not sent from here: the core
 * queues them in the outbox.
 */
export function createSlackApp(deps: SlackAppDeps): SlackApp {
  if (!deps.appToken && !deps.signingSecret) {
    throw new Error('SLACK_SIGNING_SECRET is required unless SLACK_APP_TOKEN (Socket Mode) is set');
  }
  for (const secret of [deps.botToken, deps.signingSecret, deps.appToken]) registerSecret(secret);
  const logger = boltLogger(deps.logger);
  const health = healthHandler(deps.health, deps.logger);
  const socketMode = Boolean(deps.appToken);
  const common = {
    token: deps.botToken,
    clientOptions: slackClientOptions(deps),
    logger,
    // auth.test runs in start(), so a bad token fails start-up rather than a later request.
    deferInitialization: true,
    convoStore: false as const,
  };
  const app = socketMode
    ? new App({ ...common, socketMode: true, appToken: deps.appToken })
    : new App({
        ...common,
        receiver: httpReceiver(
          deps.signingSecret ?? '',
          health,
          deps.logger,
          logger,
          deps.accepting ?? (async () => true),
          deps.extraHttp,
        ),
      });

  // Bolt answers Slack when a listener acks, and the listener goes on after that; stop() waits
  // for these.
  const inFlight = new Set<Promise<void>>();
  app.use(async ({ next }) => {
    const work = next();
    inFlight.add(work);
    try {
      await work;
    } finally {
      inFlight.delete(work);
    }
  });
  app.error(async (error) => {
    deps.logger.error('slack listener error', { error });
  });
  registerListeners(app, {
    core: deps.core,
    logger: deps.logger,
    extraSubcommands: deps.extraSubcommands ?? [],
    forgetUser: deps.forgetUser,
  });

  const sideServer = socketMode ? healthServer(health, deps.extraHttp) : undefined;
  let started = false;
  let boundPort: number | undefined;

  return {
    app,
    client: app.client,
    get port() {
      return boundPort;
    },
    async start(port, host) {
      await app.init();
      if (sideServer) {
        boundPort = await listen(sideServer, port, host);
        await app.start().catch(async (err: unknown) => {
          await close(sideServer);
          boundPort = undefined;
          throw err;
        });
      } else {
        const server = await app.start({ port, host });
        boundPort = (server.address() as AddressInfo).port;
      }
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      await app.stop();
      if (sideServer) await close(sideServer);
      await Promise.allSettled([...inFlight]);
    },
  };
}

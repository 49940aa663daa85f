import { withUrlTarget } from '../http/request-target';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, SocketModeReceiver, webApi } from '@slack/bolt';
import type { Core } from '../core';
import { registerSecret, type Logger } from '../log';
import { boltLogger } from './bolt-logger';
import { checkEnvelopes, checkSocketEvents } from './envelope';
import { registerListeners, type Subcommand } from './listeners';
import type { ReaderZones } from './reader-zones';
import { slackFetch, SLACK_CALL_TIMEOUT_MS, type SlackCallObserver } from './slack-fetch';
import { explainStartFailure } from './start-errors';

/** Slash commands, interactivity, options and events all arrive here (see manifest.yml). */
export const EVENTS_PATH = '/slack/events';
export const HEALTH_PATH = '/healthz';
export const METRICS_PATH = '/metrics';
/** How long a stop lets requests under way finish before it cuts their connections. */
const STOP_GRACE_MS = 5_000;

export interface SlackClientDeps {
  botToken: string;
  /** SLACK_API_URL: another Web API base (GovSlack, tests); every Web API call goes there. */
  apiUrl?: string;
  logger: Logger;
  /** Hears of every failed call (for /metrics). */
  observe?: SlackCallObserver;
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
  forgetUser?: (userId: string, email?: string) => void;
  /** The zone each person reads times in (the directory's `users.info`). */
  zones?: ReaderZones;
  /** Answers `GET /metrics` (Prometheus text format) beside /healthz. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
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
    fetch: slackFetch(deps.observe),
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

type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

function metricsHandler(
  metrics: NonNullable<SlackAppDeps['metrics']>,
  logger: Logger,
): RouteHandler {
  return (_req, res) => {
    metrics().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      },
      (err: unknown) => {
        logger.warn('metrics could not be rendered', { error: String(err) });
        res.writeHead(500).end();
      },
    );
  };
}

/** The GET routes beside Slack's: /healthz, and /metrics when asked for. */
function sideRoutes(deps: SlackAppDeps, health: RouteHandler): Record<string, RouteHandler> {
  return {
    [HEALTH_PATH]: health,
    ...(deps.metrics ? { [METRICS_PATH]: metricsHandler(deps.metrics, deps.logger) } : {}),
  };
}

/** Socket Mode has no HTTP endpoint of its own, so /healthz, /metrics and the API get a small server. */
function healthServer(routes: Record<string, RouteHandler>, extra?: ExtraHttp): Server {
  return createServer(
    withUrlTarget((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (req.method === 'GET' && route) return route(req, res);
      if (extra?.owns(req)) return extra.handle(req, res);
      res.writeHead(404).end();
    }),
  );
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
  routes: Record<string, RouteHandler>,
  logger: Logger,
  boltLog: ReturnType<typeof boltLogger>,
  accepting: () => Promise<boolean>,
  extra?: ExtraHttp,
): HTTPReceiver {
  const receiver = new HTTPReceiver({
    signingSecret,
    endpoints: EVENTS_PATH,
    customRoutes: Object.entries(routes).map(([path, handler]) => ({
      path,
      method: ['GET'],
      handler,
    })),
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
  receiver.requestListener = withUrlTarget(receiver.requestListener);
  return receiver;
}

/**
 * Socket Mode's receiver, with the same body checks as HTTP's: each envelope passes
 * checkSocketEvents before the app processes it.
 */
class CheckedSocketModeReceiver extends SocketModeReceiver {
  constructor(
    options: ConstructorParameters<typeof SocketModeReceiver>[0],
    private readonly checks: Parameters<typeof checkSocketEvents>[1],
  ) {
    super(options);
  }

  override init(app: App): void {
    const processEvent = checkSocketEvents((event) => app.processEvent(event), this.checks);
    super.init(
      new Proxy(app, {
        get: (target, property, receiver) =>
          property === 'processEvent' ? processEvent : Reflect.get(target, property, receiver),
      }),
    );
  }
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
  const accepting = deps.accepting ?? (async () => true);
  const app = socketMode
    ? new App({
        ...common,
        socketMode: true,
        receiver: new CheckedSocketModeReceiver(
          {
            appToken: deps.appToken ?? '',
            logger,
            installerOptions: { clientOptions: common.clientOptions },
          },
          { logger: deps.logger, accepting },
        ),
      })
    : new App({
        ...common,
        receiver: httpReceiver(
          deps.signingSecret ?? '',
          sideRoutes(deps, health),
          deps.logger,
          logger,
          accepting,
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
    zones: deps.zones,
  });

  const sideServer = socketMode
    ? healthServer(sideRoutes(deps, health), deps.extraHttp)
    : undefined;
  let started = false;
  let boundPort: number | undefined;
  let httpServer: Server | undefined;

  return {
    app,
    client: app.client,
    get port() {
      return boundPort;
    },
    async start(port, host) {
      await app.init().catch((err: unknown) => {
        throw explainStartFailure(err, {
          method: 'auth.test',
          token: 'SLACK_BOT_TOKEN',
          apiUrl: deps.apiUrl,
        });
      });
      if (sideServer) {
        boundPort = await listen(sideServer, port, host);
        await app.start().catch(async (err: unknown) => {
          await close(sideServer);
          boundPort = undefined;
          throw explainStartFailure(err, {
            method: 'apps.connections.open',
            token: 'SLACK_APP_TOKEN',
            apiUrl: deps.apiUrl,
          });
        });
      } else {
        httpServer = await app.start({ port, host });
        boundPort = (httpServer.address() as AddressInfo).port;
      }
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      // Closing a server waits for its connections: one that never completes a request (a slow
      // or idle client) would hold the stop until Node's own timeouts. Idle ones close now, and
      // requests under way get STOP_GRACE_MS before every connection is cut.
      const servers = [httpServer, sideServer].filter((s): s is Server => s !== undefined);
      const cut = setTimeout(() => servers.forEach((s) => s.closeAllConnections()), STOP_GRACE_MS);
      try {
        const closing = [app.stop(), ...(sideServer ? [close(sideServer)] : [])];
        servers.forEach((s) => s.closeIdleConnections());
        await Promise.all(closing);
      } finally {
        clearTimeout(cut);
      }
      await Promise.allSettled([...inFlight]);
    },
  };
}

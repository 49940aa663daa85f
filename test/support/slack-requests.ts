import { createHmac } from 'node:crypto';

/**
 * Requests as Slack sends them to an app: signed `v0` HMACs over the raw body, slash commands
 * as form fields, interactivity as a `payload=` form field, events as JSON. Field for field
 * like the payloads in ../shared/slack-fixtures (beside the repository).
 */

/** `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{raw body}`). */
export function slackSignature(
  secret: string,
  timestamp: string | number,
  rawBody: string,
): string {
  const base = `v0:${timestamp}:${rawBody}`;
  return `v0=${createHmac('sha256', secret).update(base).digest('hex')}`;
}

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export interface SignOptions {
  /** Seconds since the epoch; defaults to now. */
  timestamp?: number;
  /** Sent instead of the right signature. */
  signature?: string;
  headers?: Record<string, string>;
}

export interface SlackResponse {
  status: number;
  text: string;
}

let triggerCounter = 0;
/** Trigger ids are unique per interaction, like Slack's. */
export function nextTriggerId(): string {
  triggerCounter += 1;
  return `${100000 + triggerCounter}.222.${triggerCounter.toString(16).padStart(8, '0')}`;
}

export interface SlashCommandInput {
  userId: string;
  text: string;
  responseUrl: string;
  triggerId?: string;
  command?: string;
  channelId?: string;
}

/** A slash command body, fields in the order Slack sends them. */
export function slashCommandBody(input: SlashCommandInput): string {
  return new URLSearchParams({
    token: 'fixed-value',
    team_id: 'T111',
    team_domain: 'domain-value',
    channel_id: input.channelId ?? 'C111',
    channel_name: 'random',
    user_id: input.userId,
    user_name: input.userId.toLowerCase(),
    command: input.command ?? '/jit',
    text: input.text,
    api_app_id: 'A111',
    is_enterprise_install: 'false',
    response_url: input.responseUrl,
    trigger_id: input.triggerId ?? nextTriggerId(),
  }).toString();
}

function user(id: string) {
  return { id, username: id.toLowerCase(), name: id.toLowerCase(), team_id: 'T111' };
}

const TEAM = { id: 'T111', domain: 'test' };

/** Where a clicked button was. */
export type ClickSource =
  | { kind: 'message'; responseUrl: string; channelId?: string }
  | { kind: 'ephemeral'; responseUrl: string; channelId?: string }
  | { kind: 'home'; viewId?: string }
  | { kind: 'modal'; view: Record<string, unknown> };

export interface ButtonClickInput {
  userId: string;
  actionId: string;
  value: string;
  source: ClickSource;
  triggerId?: string;
}

function homeView(viewId: string) {
  return {
    id: viewId,
    team_id: 'T111',
    type: 'home',
    blocks: [],
    private_metadata: '',
    callback_id: '',
    state: { values: {} },
    hash: '1613340527.KO1pxvgt',
    root_view_id: viewId,
    app_id: 'A111',
    bot_id: 'B111',
  };
}

function containerOf(source: ClickSource) {
  switch (source.kind) {
    case 'message':
    case 'ephemeral': {
      const channelId = source.channelId ?? 'C111';
      return {
        container: {
          type: 'message',
          message_ts: '1605853634.000400',
          channel_id: channelId,
          is_ephemeral: source.kind === 'ephemeral',
        },
        channel: { id: channelId, name: 'approvals' },
        response_url: source.responseUrl,
        ...(source.kind === 'message'
          ? {
              message: {
                bot_id: 'B111',
                type: 'message',
                text: 'Hallpass',
                user: 'UBOT',
                ts: '1605853634.000400',
                team: 'T111',
                blocks: [],
              },
            }
          : {}),
      };
    }
    case 'home': {
      const viewId = source.viewId ?? 'VHOME0001';
      return { container: { type: 'view', view_id: viewId }, view: homeView(viewId) };
    }
    case 'modal':
      return { container: { type: 'view', view_id: source.view.id }, view: source.view };
  }
}

/** A block_actions payload for a button click. */
export function buttonClick(input: ButtonClickInput): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: user(input.userId),
    api_app_id: 'A111',
    token: 'fixed-value',
    ...containerOf(input.source),
    trigger_id: input.triggerId ?? nextTriggerId(),
    team: TEAM,
    actions: [
      {
        action_id: input.actionId,
        block_id: 'b',
        text: { type: 'plain_text', text: 'Click', emoji: true },
        value: input.value,
        type: 'button',
        action_ts: '1605853645.582706',
      },
    ],
  };
}

/** A view as Slack sends it back inside payloads: the view we sent plus Slack's fields. */
export function viewOutput(
  view: Record<string, unknown>,
  options: { id: string; hash?: string; values?: Record<string, unknown> },
): Record<string, unknown> {
  return {
    ...view,
    id: options.id,
    team_id: 'T111',
    private_metadata: view.private_metadata ?? '',
    callback_id: view.callback_id ?? '',
    state: { values: options.values ?? {} },
    hash: options.hash ?? '1569562184.10297bc3',
    clear_on_close: false,
    notify_on_close: false,
    root_view_id: options.id,
    previous_view_id: null,
    app_id: 'A111',
    external_id: '',
    bot_id: 'B111',
  };
}

/** A block_actions payload for choosing an option in a select inside a modal. */
export function selectInModal(input: {
  userId: string;
  view: Record<string, unknown>;
  blockId: string;
  actionId: string;
  value: string;
  type?: 'static_select' | 'external_select';
}): Record<string, unknown> {
  const selected = {
    text: { type: 'plain_text', text: input.value, emoji: true },
    value: input.value,
  };
  return {
    type: 'block_actions',
    user: user(input.userId),
    api_app_id: 'A111',
    token: 'fixed-value',
    container: { type: 'view', view_id: input.view.id },
    trigger_id: nextTriggerId(),
    team: TEAM,
    view: input.view,
    actions: [
      {
        type: input.type ?? 'static_select',
        action_id: input.actionId,
        block_id: input.blockId,
        selected_option: selected,
        action_ts: '1606455407.603639',
      },
    ],
  };
}

/** A view_submission payload. */
export function viewSubmission(input: {
  userId: string;
  view: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    type: 'view_submission',
    team: TEAM,
    user: user(input.userId),
    api_app_id: 'A111',
    token: 'random value',
    trigger_id: nextTriggerId(),
    view: input.view,
  };
}

/** The options request of an external_select inside a modal. */
export function blockSuggestion(input: {
  userId: string;
  view: Record<string, unknown>;
  blockId: string;
  actionId: string;
  value: string;
}): Record<string, unknown> {
  return {
    type: 'block_suggestion',
    user: user(input.userId),
    container: { type: 'view', view_id: input.view.id },
    api_app_id: 'A111',
    token: 'verification_token',
    action_id: input.actionId,
    block_id: input.blockId,
    value: input.value,
    team: TEAM,
    view: input.view,
  };
}

/** An Events API envelope for `app_home_opened`. */
export function appHomeOpened(input: {
  userId: string;
  tab?: 'home' | 'messages';
  eventId?: string;
}): Record<string, unknown> {
  return {
    token: 'verification-token',
    team_id: 'T111',
    api_app_id: 'A111',
    event: {
      type: 'app_home_opened',
      user: input.userId,
      channel: 'D111',
      tab: input.tab ?? 'home',
      event_ts: '1606810927.510671',
    },
    type: 'event_callback',
    event_id: input.eventId ?? 'Ev111',
    event_time: 1606810927,
    authorizations: [
      { team_id: 'T111', user_id: 'UBOT', is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
  };
}

let userChanges = 0;

/**
 * A `user_change` event as the Events API delivers it (event_callback envelope, like
 * ../shared/slack-fixtures/app-home-opened-event-callback.json), its `user` the full user object
 * Slack's documentation shows for the event. `deleted: true` is a deactivation.
 */
export function userChangeEvent(
  userId: string,
  flags: { deleted?: boolean; is_restricted?: boolean } = {},
  /** When Slack saw the change (unix seconds), and the delivery's id: by default, each its own. */
  sent: { at?: number; eventId?: string } = {},
): Record<string, unknown> {
  userChanges += 1;
  const at = sent.at ?? 1700000000 + userChanges;
  const name = userId.toLowerCase();
  return {
    token: 'verification-token',
    team_id: 'T111',
    api_app_id: 'A111',
    event: {
      type: 'user_change',
      user: {
        id: userId,
        team_id: 'T111',
        name,
        deleted: flags.deleted ?? false,
        color: '9f69e7',
        real_name: `Person ${userId}`,
        tz: 'Europe/London',
        tz_label: 'Greenwich Mean Time',
        tz_offset: 0,
        profile: {
          title: '',
          phone: '',
          skype: '',
          real_name: `Person ${userId}`,
          real_name_normalized: `Person ${userId}`,
          display_name: name,
          display_name_normalized: name,
          fields: null,
          status_text: '',
          status_emoji: '',
          status_expiration: 0,
          avatar_hash: 'g1234567890a',
          email: `${name}@example.com`,
          first_name: 'Person',
          last_name: userId,
          image_24: 'https://secure.gravatar.com/avatar/1234567890a.jpg?s=24',
          image_48: 'https://secure.gravatar.com/avatar/1234567890a.jpg?s=48',
          team: 'T111',
        },
        is_admin: false,
        is_owner: false,
        is_primary_owner: false,
        is_restricted: flags.is_restricted ?? false,
        is_ultra_restricted: false,
        is_bot: false,
        is_app_user: false,
        updated: at,
        is_email_confirmed: true,
        who_can_share_contact_card: 'EVERYONE',
      },
      cache_ts: at,
      event_ts: `${at}.000100`,
    },
    type: 'event_callback',
    event_id: sent.eventId ?? `Ev0USERCHANGE${userChanges}`,
    event_time: at,
    authorizations: [
      { team_id: 'T111', user_id: 'UBOT', is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
  };
}

/** Sends signed requests to an app's Slack endpoint, the way Slack does. */
export class SlackSender {
  constructor(
    private readonly url: string,
    private readonly signingSecret: string,
  ) {}

  async post(
    rawBody: string,
    contentType: string,
    options: SignOptions = {},
  ): Promise<SlackResponse> {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const res = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature':
          options.signature ?? slackSignature(this.signingSecret, timestamp, rawBody),
        ...options.headers,
      },
      body: rawBody,
    });
    return { status: res.status, text: await res.text() };
  }

  command(input: SlashCommandInput, options?: SignOptions): Promise<SlackResponse> {
    return this.post(slashCommandBody(input), FORM, options);
  }

  interaction(payload: Record<string, unknown>, options?: SignOptions): Promise<SlackResponse> {
    const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    return this.post(body, FORM, options);
  }

  event(envelope: Record<string, unknown>, options?: SignOptions): Promise<SlackResponse> {
    return this.post(JSON.stringify(envelope), JSON_TYPE, options);
  }
}

import type { z } from 'zod';

/** Who gets the access. Email is there when the directory knows it (Slack: `users:read.email`). */
export interface GrantUser {
  slackId: string;
  email?: string;
}

/** Everything an adapter is told about one grant. */
export interface ProviderCallContext<Target> {
  grantId: string;
  requestId: string;
  user: GrantUser;
  resource: { id: string; name: string; target: Target };
  startsAt: Date;
  expiresAt: Date;
  /** What `grant` returned as `state` for this grant, if anything. Not for secrets. */
  state?: unknown;
  /** Aborted when the call runs past the provider's timeout; pass it to fetch, spawn, queries. */
  signal: AbortSignal;
}

/** Shown to the user once, in a DM, then dropped. Never logged, never stored in plaintext. */
export interface Credentials {
  /** Markdown-ish text: how to use the access (`mrkdwn` in Slack). */
  text: string;
  /**
   * The secret values inside `text` (a password, a key). Hallpass scrubs them, and the whole
   * text, from every error, log line and audit event from then on.
   */
  secrets?: readonly string[];
}

export interface GrantResult {
  state?: unknown;
  credentials?: Credentials;
}

/** What a revoke may report besides success, for the revoke's audit event. */
export interface RevokeResult {
  activity?: ActivityReport;
}

/**
 * What the grant's access was used for, as the target system recorded it before the access went
 * away. JSON-safe, and never carries literal values (statement constants, passwords, data).
 */
export interface ActivityReport {
  /** One line for people, e.g. "42 statements: 40 SELECT, 2 UPDATE on orders". */
  summary: string;
  details: ActivityDetails;
}

export interface ActivityDetails {
  /** Where the record comes from, e.g. `pg_stat_statements`, or `pg_stat_activity` without it. */
  source: string;
  /** Why the record is partial or missing, e.g. an extension that is not loaded. */
  note?: string;
  /** Most called first. */
  statements?: StatementActivity[];
  /** Statements counted in the summary but left out of `statements` (the least called). */
  statementsOmitted?: number;
  /** Sessions that were still open when the revoke ended them. */
  sessions?: SessionActivity[];
  /** Objects the access created that outlive it, and who owns them now. */
  keptObjects?: KeptObject[];
}

export interface StatementActivity {
  /** The command, e.g. `SELECT` or `CREATE TABLE`. */
  command: string;
  /** The normalized text (`$1` for each constant); absent where it could carry a literal. */
  text?: string;
  database: string;
  calls: number;
  totalMs: number;
  rows: number;
  /** Tables the statement reads or writes, where its text names them unambiguously. */
  tables?: string[];
}

export interface SessionActivity {
  database: string;
  /** ISO 8601; absent when the target system did not show it. */
  connectedAt?: string;
  /** How long it had been open when the revoke ended it. */
  openMs?: number;
}

export interface KeptObject {
  database: string;
  /** As the target system describes it, e.g. `table scratch.stash`. */
  object: string;
  owner: string;
}

/** What an adapter promises, shown to requesters and approvers and in the README. */
export interface ProviderGuarantees {
  /** The target system refuses the access after expires_at by itself, even if Hallpass is down. */
  enforcesExpiry: boolean;
  /** Revoking ends sessions that are already open, not only new ones. */
  endsOpenSessions: boolean;
  /**
   * `per-grant`: each grant is its own access (its own role, key…), so revoking one never touches
   * another. `shared`: access is per user and place, so a revoke waits while another grant of
   * the same user at the same provider instance and target is still active.
   */
  isolation: 'per-grant' | 'shared';
}

/** What a resource's provider promises, for the messages people read; undefined when unknown. */
export interface GuaranteeLookup {
  guaranteesFor(resourceId: string): ProviderGuarantees | undefined;
}

/** One configured provider (`providers.<name>`), ready to call. */
export interface Provider<Target = unknown> {
  readonly guarantees: ProviderGuarantees;
  /**
   * For `shared` isolation, whose the one access is: the account the person's email finds
   * (`account`, the default: grants to two addresses are two accesses) or the Slack user,
   * whatever their email (`slack-user`).
   */
  readonly sharedPer?: 'account' | 'slack-user';
  /**
   * For `shared` isolation, what tells one access from another besides the account: the resource
   * and its target (`resource`, the default: every call names its resource, and a webhook
   * receiver or a command may keep two resources' accesses apart by it) or the target alone
   * (`target`: two resources naming one target, or a resource renamed under a live grant, give
   * one access, as one Slack channel or one directory group is one membership).
   */
  readonly sharedBy?: 'resource' | 'target';
  /** Gives the access. Idempotent: called again for the same grant id it succeeds without doing it twice, and brings expiresAt up to date. */
  grant(ctx: ProviderCallContext<Target>): Promise<GrantResult>;
  /**
   * Takes the access away. Idempotent: revoking what is already gone succeeds. May report what
   * the access was used for; a call that finds nothing left to revoke reports nothing.
   */
  revoke(ctx: ProviderCallContext<Target>): Promise<void | RevokeResult>;
  /** Reads back whether the access is present, to confirm a revoke. */
  check?(ctx: ProviderCallContext<Target>): Promise<boolean>;
  close?(): Promise<void>;
}

/** A Web API answer as far as every method shares it; each method adds its own fields. */
export interface SlackApiResult {
  ok?: boolean;
  error?: string;
  response_metadata?: { next_cursor?: string };
}

/** The Slack Web API as an adapter needs it (Bolt's WebClient satisfies it). */
export interface SlackApi {
  apiCall(method: string, options?: Record<string, unknown>): Promise<SlackApiResult>;
}

export interface ProviderDeps {
  slack?: SlackApi;
  /** The folder of hallpass.yml, for paths in provider configs. */
  configDir: string;
}

/**
 * A provider type: built in (`type: webhook`) or loaded from a module (`type: module`). The
 * schemas validate `providers.<name>` (without `type`) and each resource's `target`.
 */
export interface ProviderAdapter<Config = unknown, Target = unknown> {
  readonly type: string;
  readonly configSchema: z.ZodType<Config>;
  readonly targetSchema: z.ZodType<Target>;
  /**
   * The settings that say where this instance's accesses live (a server, an organisation, an
   * endpoint), by name, as plain JSON values: never a secret or a credential, which may change
   * under a live grant. A grant is acted on only while its instance still points there; an
   * adapter without it is one place per instance name. Undefined when it cannot be told here
   * (a file it reads is missing): then nothing is compared.
   */
  placeOf?(
    config: Config,
    deps: Pick<ProviderDeps, 'configDir'>,
  ): Record<string, unknown> | undefined;
  create(config: Config, deps: ProviderDeps): Provider<Target>;
}

import type { Table } from 'drizzle-orm';
import type { Dialect } from '../dialect';
import type {
  ApiTokenRow,
  ApprovalRow,
  AuditRow,
  BreakGlassRow,
  DigestRow,
  FollowUpRow,
  GrantRow,
  MetaRow,
  OutboxRow,
  PersonRow,
  PipelineCredentialRow,
  PostedMessage,
  HomeViewerRow,
  RequestRow,
} from '../rows';
import type { Runner } from '../sql';
import { TableSql } from '../table-sql';

/** One dialect's tables, as both schema folders export them. */
export interface DialectTables {
  requests: Table;
  approvals: Table;
  grants: Table;
  auditEvents: Table;
  outbox: Table;
  slackMessages: Table;
  homeViewers: Table;
  digests: Table;
  people: Table;
  meta: Table;
  apiTokens: Table;
  pipelineCredentials: Table;
  breakGlassUses: Table;
  followUps: Table;
}

/** The generic statements of every table of one dialect, built once per dialect. */
export interface TableStatements {
  requests: TableSql<RequestRow>;
  approvals: TableSql<ApprovalRow>;
  grants: TableSql<GrantRow>;
  audit: TableSql<AuditRow>;
  outbox: TableSql<OutboxRow>;
  messages: TableSql<PostedMessage>;
  homeViewers: TableSql<HomeViewerRow>;
  digests: TableSql<DigestRow>;
  people: TableSql<PersonRow>;
  meta: TableSql<MetaRow>;
  tokens: TableSql<ApiTokenRow>;
  pipelineCredentials: TableSql<PipelineCredentialRow>;
  breakGlass: TableSql<BreakGlassRow>;
  followUps: TableSql<FollowUpRow>;
}

const built = new WeakMap<DialectTables, TableStatements>();

export function tableStatements(tables: DialectTables): TableStatements {
  let found = built.get(tables);
  if (!found) {
    found = {
      requests: new TableSql<RequestRow>(tables.requests),
      approvals: new TableSql<ApprovalRow>(tables.approvals),
      grants: new TableSql<GrantRow>(tables.grants),
      audit: new TableSql<AuditRow>(tables.auditEvents),
      outbox: new TableSql<OutboxRow>(tables.outbox),
      messages: new TableSql<PostedMessage>(tables.slackMessages),
      homeViewers: new TableSql<HomeViewerRow>(tables.homeViewers),
      digests: new TableSql<DigestRow>(tables.digests),
      people: new TableSql<PersonRow>(tables.people),
      meta: new TableSql<MetaRow>(tables.meta),
      tokens: new TableSql<ApiTokenRow>(tables.apiTokens),
      pipelineCredentials: new TableSql<PipelineCredentialRow>(tables.pipelineCredentials),
      breakGlass: new TableSql<BreakGlassRow>(tables.breakGlassUses),
      followUps: new TableSql<FollowUpRow>(tables.followUps),
    };
    built.set(tables, found);
  }
  return found;
}

/** Runs `work` on one runner as one transaction (or inside the transaction already open). */
export type Atomically = <T>(work: (runner: Runner) => Promise<T>) => Promise<T>;

/** What every query group runs with. */
export interface QueryContext {
  runner: Runner;
  dialect: Dialect;
  t: TableStatements;
  atomically: Atomically;
}

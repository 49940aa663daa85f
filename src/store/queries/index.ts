import type { Dialect } from '../dialect';
import type { Queries } from '../port';
import type { Runner } from '../sql';
import { SqlPipelineCredentialQueries, SqlTokenQueries } from './api';
import { SqlApprovalQueries } from './approvals';
import { SqlAuditQueries } from './audit';
import { SqlCheckpointQueries } from './checkpoint';
import { tableStatements, type Atomically, type DialectTables } from './context';
import { SqlDigestQueries } from './digests';
import { SqlGaugeQueries } from './gauges';
import { SqlBreakGlassQueries, SqlFollowUpQueries } from './follow-ups';
import { SqlGrantQueries } from './grants';
import { SqlMessageQueries } from './messages';
import { SqlOutboxQueries } from './outbox';
import { SqlMetaQueries, SqlPeopleQueries } from './people';
import { SqlReportQueries } from './reports';
import { SqlRequestQueries } from './requests';

export type { Atomically, DialectTables } from './context';

/**
 * Every query group on one runner: the store's own (committed reads, single-statement writes),
 * or a transaction's. `atomically` runs several statements of one group as one transaction.
 */
export function createQueries(
  runner: Runner,
  dialect: Dialect,
  tables: DialectTables,
  atomically: Atomically,
): Queries {
  const q = { runner, dialect, t: tableStatements(tables), atomically };
  return {
    requests: new SqlRequestQueries(q),
    approvals: new SqlApprovalQueries(q),
    grants: new SqlGrantQueries(q),
    audit: new SqlAuditQueries(q),
    outbox: new SqlOutboxQueries(q),
    messages: new SqlMessageQueries(q),
    digests: new SqlDigestQueries(q),
    reports: new SqlReportQueries(q),
    people: new SqlPeopleQueries(q),
    meta: new SqlMetaQueries(q),
    checkpoint: new SqlCheckpointQueries(q),
    gauges: new SqlGaugeQueries(q),
    tokens: new SqlTokenQueries(q),
    pipelineCredentials: new SqlPipelineCredentialQueries(q),
    breakGlass: new SqlBreakGlassQueries(q),
    followUps: new SqlFollowUpQueries(q),
  };
}

import { join } from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { ManualClock } from '../../src/core/clock';
import { StaticDirectory } from '../../src/core/directory';
import { Core } from '../../src/core';
import { openDb, type Db } from '../../src/store/db';
import { tempDir } from './tmp';

export const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

export const BASE_CONFIG = `
timezone: UTC
admins: [UADMIN]
requests:
  pendingTimeout: 24h
  approverChannel: CAPPROVALS
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: s3cret-value
resources:
  - id: prod-db
    name: Production database
    provider: hook
    defaultDuration: 1h
    maxDuration: 4h
    approvalsRequired: 1
    approvers: { users: [ULEAD, UREQ], usergroups: [SDBA] }
    approverChannel: CDBA
  - id: quorum
    name: Two-person rule
    provider: hook
    maxDuration: 2h
    maxTotalDuration: 6h
    approvalsRequired: 2
    approvers: { users: [UA1, UA2, UA3] }
  - id: self-ok
    name: Self approvable
    provider: hook
    maxDuration: 1h
    approvers: { users: [UREQ] }
    allowSelfApproval: true
  - id: auto
    name: Auto approved
    provider: hook
    maxDuration: 1h
    approvalsRequired: 0
  - id: ticketed
    name: Needs a ticket
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    requesters: { users: [UREQ], usergroups: [SENG] }
    requireTicket: true
    ticketPattern: '^[A-Z]+-[0-9]+$'
`;

export interface CoreHarness {
  core: Core;
  db: Db;
  clock: ManualClock;
  config: Config;
  file: string;
  close(): void;
}

/** A core on a real SQLite file in a temp folder, with a clock the test moves. */
export function coreHarness(
  yaml = BASE_CONFIG,
  groups: Record<string, string[]> = { SDBA: ['UDBA'], SENG: ['UENG'] },
): CoreHarness {
  const tmp = tempDir();
  const file = join(tmp.dir, 'hallpass.db');
  const db = openDb(file);
  const clock = new ManualClock(T0);
  const config = parseConfig(yaml, {});
  const core = new Core({ db, clock, config, directory: new StaticDirectory(groups) });
  return {
    core,
    db,
    clock,
    config,
    file,
    close: () => {
      db.$client.close();
      tmp.cleanup();
    },
  };
}

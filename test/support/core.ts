import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { ManualClock } from '../../src/core/clock';
import { StaticDirectory, type Directory } from '../../src/core/directory';
import { Core } from '../../src/core';
import type { OnCall } from '../../src/core/oncall';
import type { Store } from '../../src/store';
import type { SqlInspector } from './sql-inspector';
import { freshStore, type StoreKind, type TestStore } from './stores';

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
  /** The store behind the core. */
  store: Store;
  kind: StoreKind;
  /** Plain SQL on the same database, on a connection of its own. */
  sql: SqlInspector;
  clock: ManualClock;
  config: Config;
  /** Where the store lives, for another process (the CLI, a bot) to open it. */
  location: TestStore['location'];
  /** Another core on the same database and clock, as a second process or replica would be. */
  another(): Promise<Core>;
  /**
   * Another core on the same store and clock under another configuration (and, when given,
   * another directory; else the harness's groups): the bot after hallpass.yml changed.
   */
  withConfig(yaml: string, directory?: Directory): Core;
  close(): Promise<void>;
}

/** A core on a fresh real store (SQLite file or PostgreSQL database), with a clock the test moves. */
export async function coreHarness(
  yaml = BASE_CONFIG,
  groups: Record<string, string[]> = { SDBA: ['UDBA'], SENG: ['UENG'] },
  kind: StoreKind = 'sqlite',
  oncall?: OnCall,
): Promise<CoreHarness> {
  // Parsed first: a configuration a test gets wrong throws before a store is left behind.
  const config = parseConfig(yaml, {});
  const test = await freshStore(kind);
  const clock = new ManualClock(T0);
  const directory = new StaticDirectory(groups);
  const core = new Core({ store: test.store, clock, config, directory, oncall });
  return {
    core,
    store: test.store,
    kind,
    sql: test.sql,
    clock,
    config,
    location: test.location,
    another: async () =>
      new Core({ store: await test.another(), clock, config, directory, oncall }),
    withConfig: (yaml, other = directory) =>
      new Core({
        store: test.store,
        clock,
        config: parseConfig(yaml, {}),
        directory: other,
        oncall,
      }),
    close: () => test.close(),
  };
}

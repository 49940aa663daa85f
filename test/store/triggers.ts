import type { SqlInspector } from '../support/sql-inspector';
import type { StoreKind } from '../support/stores';

/**
 * Undoes what the helpers below did. A PostgreSQL test database is emptied and handed to the
 * next test of the file, schema changes included, so every test that uses them must call
 * `restoreTriggers` in its afterEach, before the store closes.
 */
const installed: (() => Promise<void>)[] = [];

function remember(undo: () => Promise<void>): () => Promise<void> {
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    await undo();
  };
  installed.push(once);
  return once;
}

/** Puts back every trigger the helpers below changed, newest first. */
export async function restoreTriggers(): Promise<void> {
  while (installed.length > 0) await installed.pop()!();
}

/**
 * A write the database itself refuses, as a full disk or a broken constraint would: a trigger
 * that raises `message`. It lets a test make one statement inside a change fail, on either
 * database, and see what the rest of the change did.
 */
export interface Refusal {
  /** The trigger's name (and, on PostgreSQL, its function's). */
  name: string;
  table: string;
  /** `INSERT`, `UPDATE`, `UPDATE OF status`, … */
  on: string;
  /** A condition on `NEW` both databases accept, e.g. `NEW.user_id = 'UB'`. */
  when?: string;
  message: string;
}

/** Installs the refusal; resolves with the function that removes it again. */
export async function refuse(
  sql: SqlInspector,
  kind: StoreKind,
  r: Refusal,
): Promise<() => Promise<void>> {
  const message = r.message.replace(/'/g, "''");
  if (kind === 'sqlite') {
    const when = r.when ? `WHEN ${r.when}` : '';
    await sql.run(
      `CREATE TRIGGER ${r.name} BEFORE ${r.on} ON ${r.table} ${when}
       BEGIN SELECT RAISE(ABORT, '${message}'); END`,
    );
    return remember(async () => void (await sql.run(`DROP TRIGGER ${r.name}`)));
  }
  const when = r.when ? `WHEN (${r.when})` : '';
  await sql.run(
    `CREATE FUNCTION ${r.name}() RETURNS trigger LANGUAGE plpgsql
       AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$`,
  );
  await sql.run(
    `CREATE TRIGGER ${r.name} BEFORE ${r.on} ON ${r.table} FOR EACH ROW ${when}
       EXECUTE FUNCTION ${r.name}()`,
  );
  return remember(async () => {
    await sql.run(`DROP TRIGGER ${r.name} ON ${r.table}`);
    await sql.run(`DROP FUNCTION ${r.name}()`);
  });
}

/** SQLite's append-only triggers, as migrations/sqlite/0001_audit_append_only.sql creates them. */
const SQLITE_APPEND_ONLY = ['UPDATE', 'DELETE'].map(
  (on) =>
    `CREATE TRIGGER audit_events_no_${on.toLowerCase()} BEFORE ${on} ON audit_events
     BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`,
);

/**
 * Lets a test edit and delete audit rows behind the application's back, as someone with the
 * database file or a superuser could: the append-only triggers are switched off.
 */
export async function allowAuditTampering(sql: SqlInspector, kind: StoreKind): Promise<void> {
  if (kind === 'sqlite') {
    await sql.run('DROP TRIGGER audit_events_no_update');
    await sql.run('DROP TRIGGER audit_events_no_delete');
    remember(async () => {
      for (const create of SQLITE_APPEND_ONLY) await sql.run(create);
    });
  } else {
    await sql.run('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
    remember(async () => {
      await sql.run('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
    });
  }
}

import Database from 'better-sqlite3';

/**
 * Another program holding the bot's database file: a second connection, in this test process
 * (the bot runs in its own), taking the locks a long export or a careless operator would.
 */
export class DbLock {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
  }

  /** A read transaction, as a long export holds: one snapshot of the file until released. */
  holdRead(): number {
    this.db.exec('BEGIN');
    return this.db.prepare('SELECT count(*) FROM requests').pluck().get() as number;
  }

  /** Reads inside the held transaction: what the snapshot still sees. */
  requestsSeen(): number {
    return this.db.prepare('SELECT count(*) FROM requests').pluck().get() as number;
  }

  /** The write lock (BEGIN IMMEDIATE): every other writer waits, up to its busy timeout. */
  holdWrite(): void {
    this.db.exec('BEGIN IMMEDIATE');
  }

  get holding(): boolean {
    return this.db.inTransaction;
  }

  release(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  close(): void {
    this.release();
    this.db.close();
  }
}

import { getTableColumns, getTableName, type Column, type Table } from 'drizzle-orm';
import { rowMapper, type RowMapper } from './mapping';
import { placeholders, sqlOf, type Param, type Sql } from './sql';

/**
 * A table's generic statements (`SELECT *` rows, INSERT of a whole row, UPDATE of some columns
 * by id), built from its drizzle definition so column names and value mappings live in one
 * place. Values go to the driver through each column's own mapping (SQLite stores booleans as 0/1).
 */
export class TableSql<Row extends object> {
  readonly name: string;
  readonly map: RowMapper<Row>;
  private readonly columns: [key: string, column: Column][];
  private readonly byKey: Map<string, Column>;
  private readonly insertSql: Sql;

  constructor(table: Table) {
    this.name = getTableName(table);
    this.map = rowMapper<Row>(table);
    this.columns = Object.entries(getTableColumns(table));
    this.byKey = new Map(this.columns);
    const names = this.columns.map(([, c]) => c.name);
    this.insertSql = sqlOf(
      `INSERT INTO ${this.name} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    );
  }

  /** The driver value of `value` for the column at `key`. */
  value(key: string, value: unknown): Param {
    if (value === undefined || value === null) return null;
    const column = this.byKey.get(key);
    if (!column) throw new Error(`${this.name} has no column ${key}`);
    return column.mapToDriverValue(value) as Param;
  }

  column(key: string): string {
    const column = this.byKey.get(key);
    if (!column) throw new Error(`${this.name} has no column ${key}`);
    return column.name;
  }

  insert(row: Row): [Sql, Param[]] {
    const values = this.columns.map(([key]) =>
      this.value(key, (row as Record<string, unknown>)[key]),
    );
    return [this.insertSql, values];
  }

  /**
   * `UPDATE <table> SET … WHERE <idColumn> = ?`, and `AND status = ?` when `onlyIf` is given.
   * The text depends only on which columns are set, so each shape is prepared once.
   */
  update(
    idColumn: string,
    id: Param,
    patch: Partial<Row>,
    onlyIf?: string,
  ): [Sql, Param[]] | undefined {
    return this.updateWhere(`${idColumn} = ?`, [id], patch, onlyIf);
  }

  /**
   * The same patch on every row whose `idColumn` is one of `ids`, in one statement: a batch of
   * rows moving to the same state costs one round trip, not one each.
   */
  updateIn(
    idColumn: string,
    ids: readonly Param[],
    patch: Partial<Row>,
    onlyIf?: string,
  ): [Sql, Param[]] | undefined {
    if (ids.length === 0) return undefined;
    return this.updateWhere(`${idColumn} IN (${placeholders(ids.length)})`, ids, patch, onlyIf);
  }

  private updateWhere(
    match: string,
    ids: readonly Param[],
    patch: Partial<Row>,
    onlyIf?: string,
  ): [Sql, Param[]] | undefined {
    const keys = Object.keys(patch).filter(
      (k) => (patch as Record<string, unknown>)[k] !== undefined,
    );
    if (keys.length === 0) return undefined;
    const set = keys.map((k) => `${this.column(k)} = ?`).join(', ');
    const where = `${match}${onlyIf === undefined ? '' : ' AND status = ?'}`;
    const params = keys.map((k) => this.value(k, (patch as Record<string, unknown>)[k]));
    params.push(...ids);
    if (onlyIf !== undefined) params.push(onlyIf);
    return [sqlOf(`UPDATE ${this.name} SET ${set} WHERE ${where}`), params];
  }
}

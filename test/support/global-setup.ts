import { openStore } from '../../src/store';
import { startPostgres, type TestPostgres } from './postgres';
import { PG_ADMIN_URL_ENV, PG_TEMPLATE } from './stores';

declare global {
  var hallpassTestPostgres: TestPostgres | undefined;
}

/**
 * Starts one throwaway PostgreSQL cluster for the whole run and migrates a template database;
 * every PostgreSQL store of a test is a copy of it. Workers find it through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const cluster = await startPostgres();
  globalThis.hallpassTestPostgres = cluster;
  process.env[PG_ADMIN_URL_ENV] = cluster.adminUrl;
  const url = new URL(cluster.adminUrl);
  const pg = await import('pg');
  const client = new pg.Client({ connectionString: cluster.adminUrl });
  await client.connect();
  await client.query(`CREATE DATABASE ${PG_TEMPLATE}`);
  await client.end();
  url.pathname = `/${PG_TEMPLATE}`;
  const store = await openStore({ file: '', databaseUrl: url.toString() });
  await store.close();
}

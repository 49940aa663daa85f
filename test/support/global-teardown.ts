/** Stops the cluster global-setup.ts started. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.hallpassTestPostgres?.stop();
}

import { LogLevel, WebClient } from '@slack/web-api';
import { parseConfig } from '../../src/config/load';
import { Core } from '../../src/core';
import type { Directory } from '../../src/core/directory';
import { AccessTurns } from '../../src/jobs/access-turns';
import type { ProviderLookup } from '../../src/jobs/provider-call';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Reconciler } from '../../src/jobs/reconciler';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import type { ProviderSet } from '../../src/providers/provider-set';
import { loadProviders } from '../../src/providers/registry';
import { Sealer } from '../../src/secrets/seal';
import { openStore, type Store } from '../../src/store';
import type { CoreHarness } from './core';

/** One bot process as far as its grants go: its store connection, core, providers and jobs. */
export interface JobProcess {
  core: Core;
  sweeper: Sweeper;
  reconciler: Reconciler;
  providers: ProviderSet;
  store: Store;
}

/** A Web API client for the providers that call Slack, pointed at a fake's `url`. */
export function testSlackClient(url: string): WebClient {
  return new WebClient('xoxb-test', {
    slackApiUrl: url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: LogLevel.ERROR,
  });
}

/**
 * A bot (re)started on `yaml` over the harness's database, its core and jobs wired as
 * src/app.ts wires them (targets and provider places from the loaded providers).
 */
export async function startJobProcess(
  h: CoreHarness,
  yaml: string,
  deps: { client: WebClient; directory: Directory },
): Promise<JobProcess> {
  const config = parseConfig(yaml, {});
  const providers = await loadProviders(config, { slack: deps.client, configDir: __dirname });
  const store = await openStore(h.location);
  const core = new Core({
    store,
    clock: h.clock,
    config,
    directory: deps.directory,
    resolveTarget: (resource) => providers.forResource(resource.id)?.target ?? resource.target,
    providerPlaces: providers.places,
  });
  const jobDeps = {
    core,
    providers,
    directory: deps.directory,
    sealer: new Sealer('test-sealing-secret'),
    logger,
    busy: new Set<string>(),
    calls: new ProviderCalls(),
    turns: new AccessTurns(providers),
  };
  return {
    core,
    sweeper: new Sweeper({ ...jobDeps, random: () => 1 }),
    reconciler: new Reconciler(jobDeps),
    providers,
    store,
  };
}

/** Stops what startJobProcess started, in the order the bot does. */
export async function stopJobProcess(p: JobProcess): Promise<void> {
  await p.sweeper.stop();
  await p.reconciler.stop();
  await p.providers.closeAll();
  await p.store.close();
}

/** A process's sweeper and reconciler, on test providers. */
export interface TestJobs {
  sweeper: Sweeper;
  reconciler: Reconciler;
}

/**
 * The jobs of one bot process on `core` (its own calls, turns and busy set, as a process has),
 * calling the providers `providers` gives.
 */
export function jobsOf(core: Core, providers: ProviderLookup, directory: Directory): TestJobs {
  const deps = {
    core,
    providers,
    directory,
    sealer: new Sealer('test-sealing-secret'),
    logger,
    busy: new Set<string>(),
    calls: new ProviderCalls(),
    turns: new AccessTurns(providers),
  };
  return { sweeper: new Sweeper({ ...deps, random: () => 1 }), reconciler: new Reconciler(deps) };
}

/** Files UREQ's request for 30 minutes of `resourceId` (approved at once there); its grant's id. */
export async function filedGrant(h: CoreHarness, resourceId = 'auto'): Promise<string> {
  const req = await h.core.createRequest({
    requester: 'UREQ',
    resourceId,
    duration: '30m',
    justification: 'investigating INC-42 slow queries',
  });
  return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
}

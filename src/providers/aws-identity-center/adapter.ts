import type { ProviderAdapter } from '../types';
import {
  awsIdentityCenterConfig,
  awsIdentityCenterTarget,
  type AwsIdentityCenterConfig,
  type AwsIdentityCenterTarget,
} from './schema';

/**
 * The provider itself and the AWS SDK clients it uses, loaded when the first instance is
 * created rather than with the registry, so configurations without one do not pay for them.
 */
function providerModule(): typeof import('./provider') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return require('./provider') as typeof import('./provider');
}

export const awsIdentityCenterAdapter: ProviderAdapter<
  AwsIdentityCenterConfig,
  AwsIdentityCenterTarget
> = {
  type: 'aws-identity-center',
  configSchema: awsIdentityCenterConfig,
  targetSchema: awsIdentityCenterTarget,
  placeOf: (config) => ({
    instanceArn: config.instanceArn,
    identityStoreId: config.identityStoreId,
    region: config.region,
    endpoints: config.endpoints,
  }),
  create: (config) => providerModule().awsIdentityCenterProvider(config),
};

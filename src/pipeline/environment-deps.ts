/** The real edges of promote, rollback and revoke: EC2 and SSM over the SDK, the wall clock. */
import { createLifecycleEc2 } from '../aws/image-lifecycle.js';
import type { AwsSettings } from '../aws/settings.js';
import { createParameterStore } from '../aws/ssm-parameters.js';
import { createBuildRecords } from '../aws/build-records.js';
import type { EnvironmentDeps } from './environment-pins.js';

export async function withEnvironmentDeps<T>(
  aws: AwsSettings,
  bakery: string,
  work: (deps: EnvironmentDeps) => Promise<T>,
): Promise<T> {
  const store = createParameterStore(aws);
  const records = createBuildRecords(aws, bakery);
  try {
    return await work({ ec2: createLifecycleEc2(aws), store, records, now: () => new Date() });
  } finally {
    store.close();
    records.close();
  }
}

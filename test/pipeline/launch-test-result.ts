import type { LaunchTestResult } from '../../src/launch-test/launch-test.js';

/** A launch test's result as a stand-in launch test returns it: one instance in us-east-1, cloud-init done. */
export function launchTestResult(
  status: LaunchTestResult['status'],
  imageId: string,
  extra: Partial<LaunchTestResult> = {},
): LaunchTestResult {
  return {
    status,
    image: imageId,
    region: 'us-east-1',
    instance_id: 'i-0123456789abcdef0',
    instance_type: 't3.small',
    user_data: [],
    cloud_init: { status: 'done', output: 'status: done' },
    checks: [],
    duration_s: 1,
    cleanup_problems: [],
    ...extra,
  };
}

import { describe, expect, it } from 'vitest';
import { buildMetadata } from '../../src/ci/build-metadata.js';

const machine = { host: 'agent-7', user: 'jenkins', pid: 4242 };

describe('build metadata from the CI environment', () => {
  it('takes BUILD_URL and JOB_NAME from Jenkins, and names the lock holder by the build URL', () => {
    expect(
      buildMetadata(
        { BUILD_URL: 'https://ci.example/job/images/12/', JOB_NAME: 'images/main', BUILD_NUMBER: '12' },
        machine,
      ),
    ).toEqual({
      buildUrl: 'https://ci.example/job/images/12/',
      jobName: 'images/main',
      lockHolder: 'https://ci.example/job/images/12/',
    });
  });

  it('falls back to job and build number, then to user@host and pid outside CI', () => {
    expect(buildMetadata({ JOB_NAME: 'images', BUILD_NUMBER: '3' }, machine).lockHolder).toBe('images #3');
    expect(buildMetadata({ BUILD_URL: '  ' }, machine)).toEqual({
      buildUrl: undefined,
      jobName: undefined,
      lockHolder: 'jenkins@agent-7 (pid 4242)',
    });
  });
});

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BuildFailure } from '../../src/errors/index.js';
import { amisFromManifest, parseArtifactId, readManifest } from '../../src/packer/manifest.js';

const manifests = path.resolve('test/fixtures/pipeline/manifests');

describe('Packer manifest', () => {
  it('reads the AMI of every region from the last run, not from older runs in the same file', async () => {
    expect(await readManifest(path.join(manifests, 'two-runs.json'))).toEqual({
      'us-east-1': 'ami-0new1111111111111',
      'eu-west-1': 'ami-0new2222222222222',
    });
  });

  it('reads an earlier run when asked for its uuid', async () => {
    const amis = await readManifest(path.join(manifests, 'two-runs.json'), '6f1c2b1e-0000-4000-8000-000000000001');
    expect(amis['us-east-1']).toBe('ami-0old1111111111111');
  });

  it('refuses a manifest whose last run produced nothing (a stale file from an older run)', async () => {
    await expect(readManifest(path.join(manifests, 'failed-run.json'))).rejects.toThrow(
      /has no artifact for run 6f1c2b1e-0000-4000-8000-000000000009/,
    );
  });

  it('refuses a missing or truncated manifest with a one-line BuildFailure', async () => {
    const missing = await readManifest(path.join(manifests, 'nope.json')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(BuildFailure);
    expect((missing as BuildFailure).toLine()).toMatch(/nope\.json: Packer wrote no manifest/);
    await expect(readManifest(path.join(manifests, 'truncated.json'))).rejects.toThrow(
      /truncated\.json: Packer manifest is not JSON/,
    );
  });

  it('refuses an artifact that is not region:ami pairs (e.g. the null builder)', () => {
    const text = JSON.stringify({ builds: [{ artifact_id: 'Null', packer_run_uuid: 'u' }], last_run_uuid: 'u' });
    expect(() => amisFromManifest(text, 'manifest.json')).toThrow(/artifact_id not a region:ami pair: "Null"/);
  });

  it('splits artifact ids of one and of several regions', () => {
    expect(parseArtifactId('us-east-1:ami-1')).toEqual({ 'us-east-1': 'ami-1' });
    expect(parseArtifactId('us-east-1:ami-1,eu-west-1:ami-2')).toEqual({ 'us-east-1': 'ami-1', 'eu-west-1': 'ami-2' });
  });
});

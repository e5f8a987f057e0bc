/**
 * The package manifest: dpkg's list → a CycloneDX JSON SBOM (the CycloneDX library), read back,
 * kept with the build's logs and compared with the previous build's.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { keepPackageManifest } from '../../src/sbom/build-manifest.js';
import { packageChanges, packageSbom, packagesFromSbom, parseDpkgList } from '../../src/sbom/package-manifest.js';

const DPKG =
  'nginx-light\t1.22.1-9\tamd64\nlibc6\t2.36-9+deb12u4\tamd64\nlibc6\t2.36-9+deb12u4\ti386\ntzdata\t2024a-0+deb12u1\tall\nvim\t2:9.0.1378-2\tamd64\n';
const subject = { recipe: 'web', fingerprint: '1f0c9a3e5b7d2468', builtAt: '2026-11-30T05:00:00.000Z' };

describe('the package manifest', () => {
  it('is a CycloneDX 1.5 JSON SBOM: the image as the subject, one component per package with a Debian package URL', () => {
    const sbom = JSON.parse(packageSbom(parseDpkgList(DPKG), subject));
    expect(sbom).toMatchObject({
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      metadata: {
        timestamp: '2026-11-30T05:00:00.000Z',
        component: { type: 'operating-system', name: 'web', version: '1f0c9a3e5b7d2468' },
      },
    });
    expect(sbom.components).toHaveLength(5);
    const vim = sbom.components.find((c: { name: string }) => c.name === 'vim');
    // The epoch's colon is percent-encoded in the purl, as the purl spec asks.
    expect(vim).toMatchObject({
      type: 'library',
      version: '2:9.0.1378-2',
      purl: 'pkg:deb/debian/vim@2%3A9.0.1378-2?arch=amd64',
      properties: [{ name: 'bake:arch', value: 'amd64' }],
    });
  });

  it('reads back the packages it was written from, both architectures of a multi-arch package included', () => {
    const packages = parseDpkgList(DPKG);
    expect(packagesFromSbom(packageSbom(packages, subject), 'm.json')).toEqual(packages);
    expect(packages.filter((p) => p.name === 'libc6').map((p) => p.arch)).toEqual(['amd64', 'i386']);
  });

  it('refuses a file that is not a CycloneDX SBOM, and a dpkg line it cannot read', () => {
    expect(() => packagesFromSbom('{"bomFormat":"SPDX"}', 'm.json')).toThrow(/m\.json: not a CycloneDX SBOM/);
    expect(() => packagesFromSbom('{', 'm.json')).toThrow(/m\.json: not JSON/);
    expect(() => parseDpkgList('just-a-name\n')).toThrow('unexpected dpkg-query line');
  });

  it('says which packages were added, removed and changed', () => {
    const before = parseDpkgList(DPKG);
    const after = parseDpkgList(
      DPKG.replace('nginx-light\t1.22.1-9', 'nginx-light\t1.22.1-9+deb12u1').replace(/^tzdata.*\n/m, '') +
        'jq\t1.6-2.1\tamd64\n',
    );
    expect(packageChanges(before, after)).toEqual({
      added: [{ name: 'jq', version: '1.6-2.1', arch: 'amd64' }],
      removed: [{ name: 'tzdata', version: '2024a-0+deb12u1', arch: 'all' }],
      changed: [{ name: 'nginx-light', arch: 'amd64', before: '1.22.1-9', after: '1.22.1-9+deb12u1' }],
    });
  });

  it("is written by the writer Ansible runs, kept with the build's logs and compared with the previous run's", async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'bake-sbom-'));
    const logs = path.join(root, '.bake', 'logs');
    const writer = path.resolve('dist/sbom/write-sbom.js');
    for (const [run, list] of [
      ['20261129T050000Z-aaaa', DPKG],
      ['20261130T050000Z-bbbb', DPKG.replace('nginx-light\t1.22.1-9', 'nginx-light\t1.22.1-10')],
    ] as const) {
      const work = path.join(root, 'work', run);
      await mkdir(work, { recursive: true });
      await mkdir(path.join(logs, run), { recursive: true });
      await writeFile(path.join(work, 'packages.tsv'), list);
      const wrote = await execa('node', [
        writer,
        path.join(work, 'packages.tsv'),
        path.join(work, 'packages.cdx.json'),
        'web',
        'f00',
        '2026-11-30T05:00:00Z',
      ]);
      expect(wrote.stdout).toBe('5 packages');
      const kept = await keepPackageManifest(work, logs, run, 'web');
      expect(kept?.sbom).toBe(path.join(logs, run, 'web.cdx.json'));
      if (run.endsWith('aaaa')) expect(kept?.changes).toBeUndefined();
      else {
        expect(kept?.against).toBe(path.join(logs, '20261129T050000Z-aaaa', 'web.cdx.json'));
        expect(kept?.changes?.changed).toEqual([
          { name: 'nginx-light', arch: 'amd64', before: '1.22.1-9', after: '1.22.1-10' },
        ]);
      }
    }
    expect(JSON.parse(await readFile(path.join(logs, '20261130T050000Z-bbbb', 'web.cdx.json'), 'utf8')).bomFormat).toBe(
      'CycloneDX',
    );
  });
});

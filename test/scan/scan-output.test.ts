import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScanOutput } from '../../src/scan/scan-output.js';
import { parseNevra, rpmVersionCompare } from '../../src/scan/dnf-updateinfo.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/scan/${name}`, import.meta.url), 'utf8');

describe('reading the security scan of a Debian image', () => {
  // The script's real output on the local cloud's bookworm base (debootstrapped from the main suite), against the mirror.
  const findings = parseScanOutput(fixture('apt-bookworm.out'));

  it('names apt, the security source it asked and every package with a newer security version', () => {
    expect(findings.manager).toBe('apt');
    expect(findings.sources).toEqual([expect.stringContaining('bookworm-security main')]);
    const openssl = findings.pending.find((p) => p.package === 'openssl');
    expect(openssl).toBeDefined();
    expect(openssl!.installed).not.toBe(openssl!.fixed);
    expect(findings.pending.map((p) => p.package)).toContain('libssl3');
    expect(findings.pending.every((p) => p.advisory === undefined)).toBe(true);
  });

  it('lists packages by name, once', () => {
    const names = findings.pending.map((p) => p.package);
    expect(names).toEqual([...new Set(names)].sort((a, b) => a.localeCompare(b)));
  });

  it('refuses output that stops before its end (a dropped connection)', () => {
    const cut = fixture('apt-bookworm.out').split('\nbake-scan: end')[0]!;
    expect(() => parseScanOutput(cut)).toThrow(/stops before its end/);
  });

  it('strips the architecture of a Multi-Arch package name', () => {
    const text = 'bake-scan: manager apt\nbake-scan: pending\nlibc6:amd64\t2.36-9\t2.36-9+deb12u9\nbake-scan: end\n';
    expect(parseScanOutput(text).pending).toEqual([{ package: 'libc6', installed: '2.36-9', fixed: '2.36-9+deb12u9' }]);
  });
});

describe('reading dnf updateinfo --security', () => {
  it("gives each package's installed and fixed version, advisory and severity (Fedora 34's real output)", () => {
    const { manager, pending } = parseScanOutput(fixture('dnf-fedora34.out'));
    expect(manager).toBe('dnf');
    expect(pending.find((p) => p.package === 'dhcp-client')).toEqual({
      package: 'dhcp-client',
      installed: '12:4.4.2-10.b1.fc34',
      fixed: '12:4.4.2-11.b1.fc34',
      advisory: 'FEDORA-2021-08cdb4dc34',
      severity: 'Important',
    });
    expect(pending.find((p) => p.package === 'curl')).toMatchObject({
      installed: '7.76.1-3.fc34',
      fixed: '7.76.1-7.fc34',
    });
  });

  it('leaves out a fix already installed (the newest of several kernels has it)', () => {
    const { pending } = parseScanOutput(fixture('dnf-fedora34.out'));
    expect(pending.map((p) => p.package)).not.toContain('kernel-core');
    expect(pending.map((p) => p.package)).toContain('polkit-libs');
  });

  it('keeps the newest fix of a package named by several advisories, with every id (yum on RHEL 7)', () => {
    const { manager, pending } = parseScanOutput(fixture('yum-rhel7.out'));
    expect(manager).toBe('yum');
    expect(pending.find((p) => p.package === 'python-libs')).toEqual({
      package: 'python-libs',
      installed: '2.7.5-76.el7',
      fixed: '2.7.5-80.el7_6',
      advisory: 'RHSA-2019:0710 RHSA-2019:0818',
      severity: 'Important',
    });
    expect(pending.find((p) => p.package === 'libssh2')).toMatchObject({ fixed: '1.4.3-12.el7_6.2' });
  });

  it('reads dnf 5 lines (advisory, type, severity, package, issued)', () => {
    const text = [
      'bake-scan: manager dnf',
      'bake-scan: updateinfo',
      'Name                  Type     Severity  Package                                   Issued',
      'ALAS2023-2024-512     security Important openssl-libs-1:3.0.8-1.amzn2023.0.12.x86_64 2024-02-15 00:00:00',
      'bake-scan: installed',
      'openssl-libs\t1:3.0.8-1.amzn2023.0.3\tx86_64',
      'bake-scan: end',
    ].join('\n');
    expect(parseScanOutput(text).pending).toEqual([
      {
        package: 'openssl-libs',
        installed: '1:3.0.8-1.amzn2023.0.3',
        fixed: '1:3.0.8-1.amzn2023.0.12',
        advisory: 'ALAS2023-2024-512',
        severity: 'Important',
      },
    ]);
  });

  it('splits NEVRAs and compares versions as rpm does', () => {
    expect(parseNevra('dhcp-common-12:4.4.2-11.b1.fc34.noarch')).toEqual({
      name: 'dhcp-common',
      epoch: '12',
      version: '4.4.2',
      release: '11.b1.fc34',
      arch: 'noarch',
    });
    expect(parseNevra('Important/Sec.')).toBeUndefined();
    expect(rpmVersionCompare('1.10', '1.9')).toBe(1);
    expect(rpmVersionCompare('2.0~rc1', '2.0')).toBe(-1);
    expect(rpmVersionCompare('amzn2023.0.12', 'amzn2023.0.3')).toBe(1);
    expect(rpmVersionCompare('1.0', '1.0')).toBe(0);
  });
});

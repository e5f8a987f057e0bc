import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostArchitecture } from '../../src/local-cloud/architecture.js';
import { requireEmulator } from '../../src/local-cloud/emulation.js';

/** What the kernel lists for Debian's qemu-user-static 7.2 once binfmt-support has registered it. */
const DEBIAN_AARCH64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;
/** 32-bit ARM: a handler, but not for arm64. */
const DEBIAN_ARM = `enabled
interpreter /usr/libexec/qemu-binfmt/arm-binfmt-P
flags: PF
offset 0
magic 7f454c4601010100000000000000000002002800
mask ffffffffffffff00fffffffffffffffffeffffff
`;

const scratch = mkdtempSync(path.join(tmpdir(), 'bake-binfmt-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A folder standing in for /proc/sys/fs/binfmt_misc, with the kernel's `status` and the given entries. */
function binfmtFolder(entries: Record<string, string>, status: string | undefined = 'enabled'): string {
  const dir = mkdtempSync(path.join(scratch, 'binfmt_misc-'));
  if (status !== undefined) {
    writeFileSync(path.join(dir, 'status'), `${status}\n`);
    writeFileSync(path.join(dir, 'register'), '');
  }
  for (const [name, text] of Object.entries(entries)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const FIX =
  /: run scripts\/setup\.sh as root \(it installs qemu-user-static and binfmt-support and registers the handler\), or: apt-get install qemu-user-static binfmt-support$/;

describe.runIf(hostArchitecture() === 'x86_64')('the arm64 emulator check on an x86_64 host', () => {
  it('accepts Debian’s qemu-aarch64 handler, registered with the F flag', async () => {
    await expect(
      requireEmulator('arm64', binfmtFolder({ 'qemu-arm': DEBIAN_ARM, 'qemu-aarch64': DEBIAN_AARCH64 })),
    ).resolves.toBeUndefined();
  });

  it('refuses in one line, with the fix, when binfmt_misc is not mounted', async () => {
    const unmounted = path.join(scratch, 'not-mounted');
    mkdirSync(unmounted);
    const error = await requireEmulator('arm64', unmounted).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      new RegExp(`^arm64 instances run under qemu-user emulation, but binfmt_misc is not mounted at ${unmounted}`),
    );
    expect((error as Error).message).toMatch(FIX);
    expect((error as Error).message).not.toContain('\n');
  });

  it('refuses when no aarch64 handler is registered, even with a 32-bit ARM one', async () => {
    const dir = binfmtFolder({ 'qemu-arm': DEBIAN_ARM });
    await expect(requireEmulator('arm64', dir)).rejects.toThrow(
      new RegExp(`but no aarch64 handler is registered in ${dir}: run scripts/setup.sh`),
    );
  });

  it('refuses a handler registered without F: a container would not find its interpreter', async () => {
    const dir = binfmtFolder({ 'qemu-aarch64': DEBIAN_AARCH64.replace('flags: PF', 'flags: P') });
    await expect(requireEmulator('arm64', dir)).rejects.toThrow(
      `the aarch64 handler qemu-aarch64 in ${dir} is registered without the F flag, so a container cannot reach its interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P`,
    );
  });

  it('refuses a disabled handler and binfmt_misc switched off', async () => {
    const disabled = binfmtFolder({ 'qemu-aarch64': DEBIAN_AARCH64.replace('enabled', 'disabled') });
    await expect(requireEmulator('arm64', disabled)).rejects.toThrow(/the aarch64 handler qemu-aarch64 .* is disabled/);
    const off = binfmtFolder({ 'qemu-aarch64': DEBIAN_AARCH64 }, 'disabled');
    await expect(requireEmulator('arm64', off)).rejects.toThrow(
      /binfmt_misc at .* is switched off \(status: disabled\)/,
    );
  });

  it('asks nothing of binfmt_misc for x86_64, the host’s own architecture', async () => {
    await expect(requireEmulator('x86_64', path.join(scratch, 'nowhere'))).resolves.toBeUndefined();
  });
});

/**
 * Whether this machine can run another architecture's programs: the kernel's binfmt_misc hands
 * an ELF file of that machine type to an emulator (Debian's qemu-user-static registers
 * `qemu-aarch64` through binfmt-support). Read from the entries the kernel lists, never assumed,
 * so that an arm64 instance on a machine without the handler fails with the reason and the fix
 * instead of systemd-nspawn's "Exec format error".
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudError } from '../errors/index.js';
import { hostArchitecture, type Architecture } from './architecture.js';

export const BINFMT_MISC = '/proc/sys/fs/binfmt_misc';

/** ELF e_machine of each architecture (bytes 18-19 of the header, little-endian). */
const ELF_MACHINE: Record<Architecture, string> = { x86_64: '3e00', arm64: 'b700' };
/** How the kernel and qemu call each architecture, for messages. */
const KERNEL_NAME: Record<Architecture, string> = { x86_64: 'x86_64', arm64: 'aarch64' };

const FIX =
  'run scripts/setup.sh as root (it installs qemu-user-static and binfmt-support and registers the handler), or: apt-get install qemu-user-static binfmt-support';

export interface BinfmtHandler {
  name: string;
  enabled: boolean;
  interpreter: string;
  flags: string;
  offset: number;
  /** Hex, as the kernel prints it. */
  magic: string;
}

/** One entry of binfmt_misc as the kernel prints it (`enabled`, `interpreter …`, `flags: …`, `offset …`, `magic …`). */
export function parseBinfmtEntry(name: string, text: string): BinfmtHandler {
  const lines = text.split('\n');
  const field = (key: string) =>
    lines
      .find((line) => line.startsWith(`${key} `) || line.startsWith(`${key}:`))
      ?.slice(key.length + 1)
      .trim() ?? '';
  return {
    name,
    enabled: lines[0]?.trim() === 'enabled',
    interpreter: field('interpreter'),
    flags: field('flags'),
    offset: Number(field('offset') || 0),
    magic: field('magic').toLowerCase(),
  };
}

/** A handler for 64-bit little-endian ELF executables of the architecture's machine type. */
export function handles(handler: BinfmtHandler, architecture: Architecture): boolean {
  return (
    handler.offset === 0 &&
    handler.magic.startsWith('7f454c460201') &&
    handler.magic.slice(36, 40) === ELF_MACHINE[architecture]
  );
}

/**
 * Refuses, in one line saying why and how to fix it, an architecture this machine cannot run:
 * binfmt_misc not mounted or switched off, no handler for it, the handler disabled, or
 * registered without the F flag. F (fix binary) makes the kernel open the emulator when it is
 * registered; without it the kernel looks the interpreter up inside the container at each
 * exec, where the instance's own root filesystem has no such file. The host's own architecture
 * needs nothing.
 */
export async function requireEmulator(architecture: Architecture, binfmtDir: string = BINFMT_MISC): Promise<void> {
  if (architecture === hostArchitecture()) return;
  const kernelName = KERNEL_NAME[architecture];
  const refuse = (why: string) => {
    throw new CloudError(`${architecture} instances run under qemu-user emulation, but ${why}: ${FIX}`);
  };
  const status = (await readFile(path.join(binfmtDir, 'status'), 'utf8').catch(() => undefined))?.trim();
  if (status === undefined) refuse(`binfmt_misc is not mounted at ${binfmtDir}`);
  if (status !== 'enabled') refuse(`binfmt_misc at ${binfmtDir} is switched off (status: ${status})`);
  const handlers: BinfmtHandler[] = [];
  for (const name of await readdir(binfmtDir)) {
    if (name === 'status' || name === 'register') continue;
    const text = await readFile(path.join(binfmtDir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) handlers.push(parseBinfmtEntry(name, text));
  }
  const candidates = handlers.filter((handler) => handles(handler, architecture));
  const usable = candidates.find((handler) => handler.enabled && handler.flags.includes('F'));
  if (usable) return;
  const registered = candidates[0];
  if (!registered) refuse(`no ${kernelName} handler is registered in ${binfmtDir}`);
  if (!registered.enabled) refuse(`the ${kernelName} handler ${registered.name} in ${binfmtDir} is disabled`);
  refuse(
    `the ${kernelName} handler ${registered.name} in ${binfmtDir} is registered without the F flag, so a container cannot reach its interpreter ${registered.interpreter}`,
  );
}

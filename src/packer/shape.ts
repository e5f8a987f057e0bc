/**
 * Which template shape the installed Packer understands. Packer 1.7 moved the Amazon builder
 * and Ansible provisioner out into plugins declared in `packer { required_plugins }`; 1.6
 * (Debian's package) has them built in and rejects options added since.
 */
import { execa } from 'execa';
import { BakeError } from '../errors/index.js';
import type { PackerShape } from './target.js';

const FIRST_MODERN = [1, 7, 0];

export function shapeOfVersion(version: string): PackerShape {
  const parts = version.split('.').map((part) => Number.parseInt(part, 10));
  for (let i = 0; i < FIRST_MODERN.length; i++) {
    const part = parts[i] ?? 0;
    if (part !== FIRST_MODERN[i]) return part > FIRST_MODERN[i] ? 'modern' : 'legacy';
  }
  return 'modern';
}

/** `Packer v1.6.6`, `Packer v1.11.2\n\nYour version of Packer is out of date!…`, `1.9.4` → the version. */
export function parsePackerVersion(output: string): string | undefined {
  return /(?:^|\s|v)(\d+\.\d+\.\d+)/.exec(output)?.[1];
}

export async function detectPackerShape(packerBin = 'packer'): Promise<{ version: string; shape: PackerShape }> {
  let stdout: string;
  try {
    ({ stdout } = await execa(packerBin, ['version'], { env: { CHECKPOINT_DISABLE: '1' }, timeout: 30_000 }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EACCES') {
      throw new BakeError(
        `packer not found: install it (https://developer.hashicorp.com/packer/install, or apt-get install packer) or put "${packerBin}" on PATH`,
      );
    }
    throw new BakeError(`${packerBin} version failed: ${(error as Error).message.split('\n')[0]}`);
  }
  const version = parsePackerVersion(stdout);
  if (!version) throw new BakeError(`${packerBin} version printed no version: ${JSON.stringify(stdout.slice(0, 200))}`);
  return { version, shape: shapeOfVersion(version) };
}

export type ShapeChoice = PackerShape | 'auto';

/**
 * The shape to render for. `auto` asks the installed Packer; rendering is offline, so without
 * one it goes on with the modern shape (what current Packer releases need) and says so.
 */
export async function chooseShape(
  choice: ShapeChoice,
  warn: (message: string) => void,
  packerBin = 'packer',
): Promise<{ shape: PackerShape; version?: string }> {
  if (choice !== 'auto') return { shape: choice };
  try {
    return await detectPackerShape(packerBin);
  } catch (error) {
    warn(`${(error as Error).message}; rendering for modern Packer (>= 1.7), pass --packer-shape to choose`);
    return { shape: 'modern' };
  }
}

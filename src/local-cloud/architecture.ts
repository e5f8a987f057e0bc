/**
 * The processor architectures the local cloud boots, named as EC2 names them (DescribeImages'
 * `Architecture`, DescribeInstanceTypes' `SupportedArchitectures`). One not the host's own runs
 * under qemu-user emulation (emulation.ts).
 */
// The names and the check are bake's own (src/tags/architecture.ts): recipes, tags and the local cloud share them.
import { ARCHITECTURES, isArchitecture, type Architecture } from '../tags/architecture.js';

export { ARCHITECTURES, isArchitecture, type Architecture };

/** Debian's name for each (debootstrap --arch, and the names of Debian's official AMIs). */
export const DEBIAN_ARCH: Record<Architecture, string> = { x86_64: 'amd64', arm64: 'arm64' };

/** The architecture this machine runs natively; the others need an emulator. */
export function hostArchitecture(arch: string = process.arch): Architecture {
  return arch === 'arm64' ? 'arm64' : 'x86_64';
}

/**
 * The processor architectures the local cloud boots, named as EC2 names them (DescribeImages'
 * `Architecture`, DescribeInstanceTypes' `SupportedArchitectures`). One not the host's own runs
 * under qemu-user emulation (emulation.ts).
 */
export type Architecture = 'x86_64' | 'arm64';

export const ARCHITECTURES: readonly Architecture[] = ['x86_64', 'arm64'];

/** Debian's name for each (debootstrap --arch, and the names of Debian's official AMIs). */
export const DEBIAN_ARCH: Record<Architecture, string> = { x86_64: 'amd64', arm64: 'arm64' };

export function isArchitecture(value: string): value is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(value);
}

/** The architecture this machine runs natively; the others need an emulator. */
export function hostArchitecture(arch: string = process.arch): Architecture {
  return arch === 'arm64' ? 'arm64' : 'x86_64';
}

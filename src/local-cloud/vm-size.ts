/**
 * How big a local VM is: the vCPUs and memory of its EC2 instance type, as far as the host can
 * give them: no more vCPUs than the host has cores (what the guest sees; under single-threaded
 * TCG they take turns on one host thread) and a share of the memory the host has available (the
 * guest's memory is the host's); a capped VM says so once on its console.
 */

export interface VmSize {
  cpus: number;
  memoryMiB: number;
}

export interface HostCapacity {
  cores: number;
  /** What the host has available now (MemAvailable), in MiB. */
  availableMiB: number;
}

/** An instance type bake does not know (or none): what every local VM had before types sized it. */
export const DEFAULT_VM_SIZE: VmSize = { cpus: 1, memoryMiB: 1024 };

/** Of the host's available memory, at most this share goes to one VM: the host, bake and other instances need the rest. */
const HOST_MEMORY_SHARE = 0.5;
/** A Debian kernel with systemd does not boot in less. */
const MIN_MEMORY_MIB = 256;

/** Memory in GiB of each size, the same across these families' vCPU-to-memory ratios. */
const SIZES: Record<string, { cpus: number; gibPerCpu: Record<'general' | 'compute' | 'memory', number> }> = {
  nano: { cpus: 2, gibPerCpu: { general: 0.25, compute: 0.25, memory: 0.25 } },
  micro: { cpus: 2, gibPerCpu: { general: 0.5, compute: 0.5, memory: 0.5 } },
  small: { cpus: 2, gibPerCpu: { general: 1, compute: 1, memory: 1 } },
  medium: { cpus: 2, gibPerCpu: { general: 2, compute: 2, memory: 2 } },
  large: { cpus: 2, gibPerCpu: { general: 4, compute: 2, memory: 8 } },
  xlarge: { cpus: 4, gibPerCpu: { general: 4, compute: 2, memory: 8 } },
  '2xlarge': { cpus: 8, gibPerCpu: { general: 4, compute: 2, memory: 8 } },
  '4xlarge': { cpus: 16, gibPerCpu: { general: 4, compute: 2, memory: 8 } },
  '8xlarge': { cpus: 32, gibPerCpu: { general: 4, compute: 2, memory: 8 } },
};

/** The common families and what kind each is; burstable ones (t*) also have the nano–medium sizes. */
const FAMILIES: Record<string, { kind: 'general' | 'compute' | 'memory'; burstable?: true }> = {
  t3: { kind: 'general', burstable: true },
  t3a: { kind: 'general', burstable: true },
  t4g: { kind: 'general', burstable: true },
  m5: { kind: 'general' },
  m5a: { kind: 'general' },
  m6i: { kind: 'general' },
  m6a: { kind: 'general' },
  m6g: { kind: 'general' },
  m7i: { kind: 'general' },
  m7g: { kind: 'general' },
  c5: { kind: 'compute' },
  c5a: { kind: 'compute' },
  c6i: { kind: 'compute' },
  c6a: { kind: 'compute' },
  c6g: { kind: 'compute' },
  c7i: { kind: 'compute' },
  c7g: { kind: 'compute' },
  r5: { kind: 'memory' },
  r6i: { kind: 'memory' },
  r6g: { kind: 'memory' },
  r7i: { kind: 'memory' },
};

/** EC2's vCPUs and memory of `instanceType`; undefined for a type not in bake's small table. */
export function instanceTypeSize(instanceType: string | undefined): VmSize | undefined {
  const match = /^([a-z][a-z0-9]*)\.([a-z0-9]+)$/.exec(instanceType ?? '');
  if (!match) return undefined;
  const family = FAMILIES[match[1]];
  const size = Object.hasOwn(SIZES, match[2]) ? SIZES[match[2]] : undefined;
  if (!family || !size) return undefined;
  // nano–medium exist only for burstable families; larger burstable sizes keep their 4 GiB per vCPU ratio.
  if (!family.burstable && ['nano', 'micro', 'small', 'medium'].includes(match[2])) return undefined;
  if (family.burstable && ['4xlarge', '8xlarge'].includes(match[2])) return undefined;
  const memoryGiB = size.cpus * size.gibPerCpu[family.kind];
  return { cpus: size.cpus, memoryMiB: Math.round(memoryGiB * 1024) };
}

export interface SizedVm extends VmSize {
  /** Set when the host could not give what the instance type asks for: the line the console shows. */
  capped?: string;
}

/** The VM's size: the instance type's (or the default), capped by the host's cores and a share of its available memory. */
export function sizeVm(instanceType: string | undefined, host: HostCapacity): SizedVm {
  const wanted = instanceTypeSize(instanceType) ?? DEFAULT_VM_SIZE;
  const maxCpus = Math.max(1, Math.trunc(host.cores));
  const maxMemory = Math.max(MIN_MEMORY_MIB, Math.trunc(host.availableMiB * HOST_MEMORY_SHARE));
  const cpus = Math.min(wanted.cpus, maxCpus);
  const memoryMiB = Math.min(wanted.memoryMiB, maxMemory);
  if (cpus === wanted.cpus && memoryMiB === wanted.memoryMiB) return { cpus, memoryMiB };
  const asked = `${wanted.cpus} vCPU, ${wanted.memoryMiB} MiB`;
  return {
    cpus,
    memoryMiB,
    capped:
      `bake: ${instanceType ?? 'this instance'} asks for ${asked}; this local VM has ${cpus} vCPU, ${memoryMiB} MiB ` +
      `(the host has ${host.cores} cores and ${Math.trunc(host.availableMiB)} MiB available, of which a VM gets at most half)`,
  };
}

/**
 * What the local cloud puts into an instance's filesystem before it boots, as EC2 hands it over
 * through the metadata service: cloud-init's NoCloud seed (instance id, hostname, the key
 * pair's public key, RunInstances' UserData as given), the key in root's authorized_keys, and
 * apt's way to the mirror through the host (an instance has no other route out).
 */
import path from 'node:path';
import { stringify } from 'yaml';
import { writeInsideRoot, type RootWrite } from './instance-root.js';

export const SEED_DIR = 'var/lib/cloud/seed/nocloud';
export const APT_PROXY_CONF = 'etc/apt/apt.conf.d/00bake-local-cloud-proxy';

export interface InstanceSeed {
  instanceId: string;
  /** The instance's address; its hostname is EC2's ip-a-b-c-d form of it. */
  ip: string;
  /** OpenSSH public key line, or empty for an instance launched without a key pair. */
  authorizedKey: string;
  /** RunInstances' UserData, decoded; undefined when none was given. */
  userData?: Buffer;
  /** host:port of the apt proxy on the host's end of the instance's veth pair. */
  aptProxy: string;
  /** The instance runs under qemu-user emulation (an arm64 instance on an x86_64 host). */
  emulated?: boolean;
}

/**
 * The units of Debian 12's boot that load systemd credentials (`LoadCredential=`). Under
 * qemu-user, systemd as PID 1 fails to set up a unit's credentials directory ("Failed at step
 * CREDENTIALS spawning …: Invalid argument", status 243) and the unit never runs; the same
 * units start in x86_64 instances in the same user namespace. The local cloud passes no
 * credentials, so an emulated instance's copies of these units load none.
 */
export const CREDENTIAL_UNITS = [
  'systemd-sysctl.service',
  'systemd-sysusers.service',
  'systemd-tmpfiles-setup.service',
  'systemd-tmpfiles-setup-dev.service',
];
export const EMULATION_DROP_IN = '50-bake-local-cloud-emulation.conf';

export function renderEmulationDropIn(): string {
  return `# Written by bake's local cloud at every boot of an emulated (qemu-user) instance: systemd\n# cannot set up a unit's credentials directory under emulation, and the local cloud passes none.\n[Service]\nLoadCredential=\n`;
}

/** `meta-data`: YAML written by the yaml library, so no value can break out of its field. */
export function renderMetaData(seed: Pick<InstanceSeed, 'instanceId' | 'ip' | 'authorizedKey'>): string {
  const key = seed.authorizedKey.trim();
  return stringify({
    'instance-id': seed.instanceId,
    'local-hostname': hostnameOf(seed.ip),
    ...(key ? { 'public-keys': [key] } : {}),
  });
}

export function hostnameOf(ip: string): string {
  return `ip-${ip.replaceAll('.', '-')}`;
}

export function renderAptProxyConf(aptProxy: string): string {
  if (!/^[\d.]+:\d+$/.test(aptProxy)) throw new Error(`not an address:port: ${aptProxy}`);
  return `// Written by bake's local cloud at every boot: the only way out of an instance is this proxy on the host.\nAcquire::http::Proxy "http://${aptProxy}";\n`;
}

/**
 * Writes the seed into a mounted instance root that is not running, as the instance's own root
 * chrooted into it (src/local-cloud/instance-root.ts): the image is the instance's, and a link
 * it holds where a seed file goes must never lead bake to a host path.
 */
export async function writeInstanceSeed(rootfs: string, uidBase: number, seed: InstanceSeed): Promise<void> {
  const seedDir = `/${SEED_DIR}`;
  const key = seed.authorizedKey.trim();
  const writes: RootWrite[] = [
    { op: 'mkdir', path: seedDir, mode: 0o700 },
    { op: 'write', path: `${seedDir}/meta-data`, data: renderMetaData(seed), mode: 0o600 },
    // NoCloud needs the file even when empty; bytes as given (cloud-init itself handles gzip and MIME).
    { op: 'write', path: `${seedDir}/user-data`, data: seed.userData ?? '', mode: 0o600 },
    { op: 'mkdir', path: `/${path.dirname(APT_PROXY_CONF)}`, mode: 0o755 },
    { op: 'write', path: `/${APT_PROXY_CONF}`, data: renderAptProxyConf(seed.aptProxy), mode: 0o644 },
    { op: 'mkdir', path: '/root/.ssh', mode: 0o700 },
  ];
  if (seed.emulated)
    for (const unit of CREDENTIAL_UNITS)
      writes.push(
        { op: 'mkdir', path: `/etc/systemd/system/${unit}.d`, mode: 0o755 },
        {
          op: 'write',
          path: `/etc/systemd/system/${unit}.d/${EMULATION_DROP_IN}`,
          data: renderEmulationDropIn(),
          mode: 0o644,
        },
      );
  // cloud-init adds the same key from meta-data; written here too so that an image whose
  // cloud-init is broken or disabled can still be reached and its log read.
  if (key)
    writes.push({
      op: 'write',
      path: '/root/.ssh/authorized_keys',
      data: `${key}\n`,
      mode: 0o600,
      appendLineIfMissing: true,
    });
  await writeInsideRoot(rootfs, uidBase, writes);
}

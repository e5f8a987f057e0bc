/**
 * `dnf updateinfo list --security` (and yum's `updateinfo list security`) as the pending security
 * fixes of an Amazon Linux / RHEL-family image. Each line names an advisory, its severity and the
 * package build that fixes it (`ALAS2023-2024-1 Important/Sec. openssl-libs-1:3.0.8-1.amzn2023.0.12.x86_64`);
 * the installed version comes from `rpm -qa` (`name<TAB>epoch:version-release<TAB>arch`).
 * Several advisories for one package: the newest fixed build is the one to reach, every id is kept.
 */
import type { PendingUpdate } from './pending-update.js';

interface Nevra {
  name: string;
  epoch: string;
  version: string;
  release: string;
  arch: string;
}

const ARCHES = /^(x86_64|aarch64|noarch|i686|i386|ppc64le|s390x|armv7hl|src)$/;

/** `name-[epoch:]version-release.arch` → its parts; undefined for anything else (headers, notes). */
export function parseNevra(text: string): Nevra | undefined {
  const dot = text.lastIndexOf('.');
  if (dot < 0) return undefined;
  const arch = text.slice(dot + 1);
  if (!ARCHES.test(arch)) return undefined;
  const rest = text.slice(0, dot);
  const releaseDash = rest.lastIndexOf('-');
  const versionDash = rest.lastIndexOf('-', releaseDash - 1);
  if (releaseDash <= 0 || versionDash <= 0) return undefined;
  const name = rest.slice(0, versionDash);
  let version = rest.slice(versionDash + 1, releaseDash);
  const release = rest.slice(releaseDash + 1);
  let epoch = '0';
  const colon = version.indexOf(':');
  if (colon >= 0) {
    epoch = version.slice(0, colon);
    version = version.slice(colon + 1);
  }
  if (!name || !version || !release || !/^\d+$/.test(epoch)) return undefined;
  return { name, epoch, version, release, arch };
}

/** rpm's version comparison (rpmvercmp): digit runs numerically, letter runs as text, `~` sorts before anything. */
export function rpmVersionCompare(a: string, b: string): number {
  const segments = (s: string) => s.match(/~|\d+|[a-zA-Z]+/g) ?? [];
  const left = segments(a);
  const right = segments(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === '~' || y === '~') {
      if (x !== y) return x === '~' ? -1 : 1;
      continue;
    }
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xNum = /^\d/.test(x);
    const yNum = /^\d/.test(y);
    if (xNum !== yNum) return xNum ? 1 : -1;
    if (xNum) {
      const diff = BigInt(x) - BigInt(y);
      if (diff !== 0n) return diff > 0n ? 1 : -1;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function compareEvr(a: { epoch: string; version: string; release: string }, b: typeof a): number {
  return (
    Number(a.epoch) - Number(b.epoch) ||
    rpmVersionCompare(a.version, b.version) ||
    rpmVersionCompare(a.release, b.release)
  );
}

/** `epoch:version-release`, the epoch left out when 0 (as dnf prints versions). */
function evrText(evr: { epoch: string; version: string; release: string }): string {
  return `${evr.epoch === '0' ? '' : `${evr.epoch}:`}${evr.version}-${evr.release}`;
}

function parseInstalled(text: string): Map<string, Nevra> {
  const installed = new Map<string, Nevra>();
  for (const line of text.split('\n')) {
    const [name, evr, arch] = line.trim().split('\t');
    if (!name || !evr || !arch) continue;
    const match = /^(\d+):(.+)-([^-]+)$/.exec(evr);
    if (!match) continue;
    const entry = { name, epoch: match[1]!, version: match[2]!, release: match[3]!, arch };
    const key = `${name}.${arch}`;
    const known = installed.get(key);
    // Several installed builds (kernels): the newest is the one a fix must beat.
    if (!known || compareEvr(entry, known) > 0) installed.set(key, entry);
  }
  return installed;
}

export function parseDnfUpdateinfo(updateinfo: string, rpmList: string): PendingUpdate[] {
  const installed = parseInstalled(rpmList);
  const found = new Map<string, { fix: Nevra; advisories: string[]; severity?: string; installed: Nevra }>();
  for (const line of updateinfo.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // dnf 4 / yum: ADVISORY SEVERITY/Sec. NEVRA; dnf 5: ADVISORY TYPE SEVERITY NEVRA ISSUED.
    const fix = fields.map(parseNevra).find((nevra) => nevra !== undefined);
    const advisory = fields[0];
    if (!fix || !advisory || parseNevra(advisory)) continue;
    const have = installed.get(`${fix.name}.${fix.arch}`) ?? installed.get(`${fix.name}.noarch`);
    if (!have || compareEvr(fix, have) <= 0) continue;
    const severity = fields
      .slice(1)
      .map(
        (field) =>
          /^([A-Za-z]+)\/Sec\.$/.exec(field)?.[1] ??
          (/^(Critical|Important|Moderate|Low)$/i.test(field) ? field : undefined),
      )
      .find((value) => value !== undefined);
    const key = fix.name;
    const known = found.get(key);
    if (!known) found.set(key, { fix, advisories: [advisory], severity, installed: have });
    else {
      if (!known.advisories.includes(advisory)) known.advisories.push(advisory);
      if (compareEvr(fix, known.fix) > 0) Object.assign(known, { fix, severity: severity ?? known.severity });
    }
  }
  return [...found.values()]
    .map(({ fix, advisories, severity, installed: have }) => ({
      package: fix.name,
      installed: evrText(have),
      fixed: evrText(fix),
      advisory: advisories.join(' '),
      ...(severity && { severity }),
    }))
    .sort((a, b) => a.package.localeCompare(b.package));
}

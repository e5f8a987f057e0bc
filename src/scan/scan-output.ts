/**
 * Reads what the security scan script (./security-script.ts) printed: which package manager the
 * image has, the security sources it asked, and each installed package with a newer version there.
 */
import { parseDnfUpdateinfo } from './dnf-updateinfo.js';
import type { PendingUpdate } from './pending-update.js';

export type { PendingUpdate };

export interface ScanFindings {
  manager: 'apt' | 'dnf' | 'yum';
  /** apt: the security entries of the image's sources that were asked. */
  sources: string[];
  /** What apt or dnf warned about while reading the security suites. */
  warnings: string[];
  /** By package name. */
  pending: PendingUpdate[];
}

const MARK = 'bake-scan: ';

export function parseScanOutput(stdout: string): ScanFindings {
  const lines = stdout.split('\n');
  const managerLine = lines.find((line) => line.startsWith(`${MARK}manager `));
  const manager = managerLine?.slice(`${MARK}manager `.length).trim();
  if (manager !== 'apt' && manager !== 'dnf' && manager !== 'yum')
    throw new Error('the scan printed no package manager (is this a bake scan output?)');
  if (!lines.some((line) => line === `${MARK}end`)) throw new Error('the scan output stops before its end');
  const sources = lines
    .filter((line) => line.startsWith(`${MARK}source `))
    .map((line) => line.slice(`${MARK}source `.length))
    .filter((line) => /^(deb\s|URIs:|Suites:)/.test(line));
  const warnings = lines
    .filter((line) => line.startsWith(`${MARK}warning `))
    .map((line) => line.slice(`${MARK}warning `.length));
  if (manager === 'apt') return { manager, sources, warnings, pending: parseAptPending(section(lines, 'pending')) };
  return {
    manager,
    sources,
    warnings,
    pending: parseDnfUpdateinfo(section(lines, 'updateinfo').join('\n'), section(lines, 'installed').join('\n')),
  };
}

/** The lines after `bake-scan: NAME` up to the next `bake-scan:` line. */
function section(lines: string[], name: string): string[] {
  const start = lines.indexOf(`${MARK}${name}`);
  if (start < 0) throw new Error(`the scan output has no ${name} section`);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith(MARK)) break;
    if (line.trim()) body.push(line);
  }
  return body;
}

/** `name<TAB>installed<TAB>candidate`, one per package; `libc6:amd64` is named `libc6`. */
function parseAptPending(lines: string[]): PendingUpdate[] {
  const byName = new Map<string, PendingUpdate>();
  for (const line of lines) {
    const [name, installed, fixed, ...rest] = line.split('\t');
    if (!name || !installed || !fixed || rest.length) throw new Error(`unexpected scan line: ${JSON.stringify(line)}`);
    const pkg = name.replace(/:[a-z0-9-]+$/, '');
    byName.set(pkg, { package: pkg, installed, fixed });
  }
  return [...byName.values()].sort((a, b) => a.package.localeCompare(b.package));
}

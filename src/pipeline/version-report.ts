/**
 * `bake --version`: which bake this is, the version of the templates it generates (part of every
 * fingerprint: a new one rebuilds every recipe), and the Packer template shape it will use with
 * the packer on PATH — the three things that decide what an upgrade of bake will rebuild.
 */
import { GENERATOR_VERSION } from '../packer/generator-version.js';
import { detectPackerShape } from '../packer/shape.js';
import type { PackerShape } from '../packer/target.js';
import { bakeVersion } from '../release/installed-package.js';

export interface VersionReport {
  bake: string;
  generator: string;
  packer: { version: string; shape: PackerShape } | { problem: string };
}

export async function versionReport(
  detect: () => Promise<{ version: string; shape: PackerShape }> = detectPackerShape,
) {
  let packer: VersionReport['packer'];
  try {
    packer = await detect();
  } catch (error) {
    packer = { problem: (error as Error).message };
  }
  return { bake: bakeVersion(), generator: GENERATOR_VERSION, packer } satisfies VersionReport;
}

const SHAPES: Record<PackerShape, string> = {
  legacy: 'legacy template shape (Packer 1.6: amazon builder and ansible provisioner built in)',
  modern: 'modern template shape (Packer 1.7+: required_plugins amazon and ansible)',
};

export function versionLines(report: VersionReport): string[] {
  return [
    `bake ${report.bake}`,
    `generator ${report.generator} (the templates bake generates; part of every fingerprint)`,
    'problem' in report.packer
      ? `packer: ${report.packer.problem}`
      : `packer ${report.packer.version}: ${SHAPES[report.packer.shape]}`,
  ];
}

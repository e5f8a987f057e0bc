/**
 * Run by Ansible on the build machine at the end of a bake (src/packer/playbook.ts):
 * `node write-sbom.js PACKAGES.tsv OUT.cdx.json RECIPE FINGERPRINT BUILT_AT`.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { createOutput } from '../io/output.js';
import { packageSbom, parseDpkgList } from './package-manifest.js';

const output = createOutput({ json: false });
const [input, sbomFile, recipe, fingerprint, builtAt] = process.argv.slice(2);
if (!input || !sbomFile || !recipe) {
  output.error('usage: write-sbom PACKAGES.tsv OUT.cdx.json RECIPE FINGERPRINT BUILT_AT');
  process.exit(2);
}
const packages = parseDpkgList(readFileSync(input, 'utf8'));
await writeFileAtomic(
  sbomFile,
  packageSbom(packages, { recipe, fingerprint: fingerprint ?? '', builtAt: builtAt || new Date().toISOString() }),
);
output.text(`${packages.length} packages\n`);

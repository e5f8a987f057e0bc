/**
 * Run by Ansible on the build machine at the end of a bake (src/packer/playbook.ts):
 * `node write-sbom.js PACKAGES.tsv OUT.cdx.json RECIPE FINGERPRINT BUILT_AT`.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { packageSbom, parseDpkgList } from './package-manifest.js';

const [input, output, recipe, fingerprint, builtAt] = process.argv.slice(2);
if (!input || !output || !recipe) {
  process.stderr.write('usage: write-sbom PACKAGES.tsv OUT.cdx.json RECIPE FINGERPRINT BUILT_AT\n');
  process.exit(2);
}
const packages = parseDpkgList(readFileSync(input, 'utf8'));
await writeFileAtomic(output, packageSbom(packages, { recipe, fingerprint: fingerprint ?? '', builtAt: builtAt || new Date().toISOString() }));
process.stdout.write(`${packages.length} packages\n`);

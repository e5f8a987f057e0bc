/**
 * What `npm pack` puts in the tarball: everything bake reads at run time, nothing of its tests
 * or sources. The end-to-end proof (the tarball installed into another repository and run there)
 * is test/e2e/installed-package.test.ts; this is the quick check of the list.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_FILES, SHIPPED_FOLDERS } from '../../src/release/installed-package.js';

const repo = path.resolve(import.meta.dirname, '../..');
let packed: string[];

beforeAll(async () => {
  // --ignore-scripts: the list only (prepare would rebuild dist/ under the other tests' feet).
  const { stdout } = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo });
  packed = (JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((file) => file.path).sort();
}, 120_000);

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(repo, dir), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(repo, path.join(e.parentPath, e.name)));
}

describe('the npm package', () => {
  it('ships every folder bake reads at run time, whole, with the CLI, README, CHANGELOG and LICENSE', async () => {
    for (const folder of SHIPPED_FOLDERS)
      for (const file of await filesUnder(folder)) expect(packed, `${file} is not in the package`).toContain(file);
    for (const file of SHIPPED_FILES) expect(packed).toContain(file);
    for (const file of ['bin/bake.js', 'dist/cli/main.js', 'dist/sbom/write-sbom.js', 'package.json'])
      expect(packed).toContain(file);
    for (const file of ['README.md', 'CHANGELOG.md', 'LICENSE']) expect(packed).toContain(file);
  });

  it('leaves out the sources, tests, example bakery, source maps and the bench', () => {
    const stray = packed.filter(
      (file) =>
        /^(src|test|recipes|roles|cloud-init|infra|scripts)\//.test(file) ||
        file.endsWith('.map') ||
        file.startsWith('dist/bench/'),
    );
    expect(stray).toEqual([]);
  });

  it('reads files relative to its own install in one module only', async () => {
    // Another module resolving files from import.meta.url would read from a tree that may not ship.
    const readers: string[] = [];
    for (const file of await filesUnder('src')) {
      const text = await readFile(path.join(repo, file), 'utf8');
      if (/import\.meta\.(url|dirname|filename)|__dirname/.test(text)) readers.push(file);
    }
    expect(readers.sort()).toEqual([
      // bake's own compiled code, run as a separate process: it ships in dist/ beside its caller.
      'src/pipeline/bake-recipe.ts',
      // `npm run schema`, a development script: writes into the repository, not the install.
      'src/recipes/write-schema.ts',
      'src/release/installed-package.ts',
    ]);
  });

  it('says what it needs to run: bin, engines, license, and the files prepare builds from in a git install', async () => {
    const pkg = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ bake: 'bin/bake.js' });
    // The Node versions CI proves (the machine's 20, and 22 and 24 through scripts/node-versions.sh), from the
    // 20.18 the dependencies need (@cyclonedx/cyclonedx-library); no odd release vitest does not run on.
    expect(pkg.engines.node).toBe('^20.18.0 || ^22.0.0 || >=24.0.0');
    expect(pkg.license).toBe('MIT');
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    // A git dependency runs prepare (tsc) after installing devDependencies: tsc and the Node types must be there.
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(Object.keys(pkg.devDependencies)).toEqual(expect.arrayContaining(['typescript', '@types/node']));
  });
});

/**
 * What bake reads from its own installation at run time. bake runs from an npm package installed
 * in someone else's repository (node_modules/bake), so every file it needs besides the bakery is
 * found from this module, never from the working directory or bake's source tree: the folders
 * named here are the ones package.json's "files" ships (test/release/package-contents.test.ts
 * checks both agree).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package's root: dist/release/ → two levels up (src/release/ under vitest). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What bake reads of its package at run time, besides its compiled code: two folders, and the
 * repository's Jenkinsfile, whose pipeline `bake init` gives every new bakery.
 */
export const SHIPPED_FOLDERS = ['templates', 'schema'] as const;
export const SHIPPED_FILES = ['Jenkinsfile'] as const;
export type ShippedFolder = (typeof SHIPPED_FOLDERS)[number];

/** A file of the installed package, e.g. `packageFile('templates', 'packer/recipe.pkr.hcl.hbs')`, `packageFile('Jenkinsfile')`. */
export function packageFile(entry: ShippedFolder | (typeof SHIPPED_FILES)[number], relative = ''): string {
  return path.join(PACKAGE_ROOT, entry, relative);
}

let version: string | undefined;

/** bake's own version, as package.json gives it (semantic versioning; CHANGELOG.md says what each one changed). */
export function bakeVersion(): string {
  version ??= (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
  return version;
}

/** `0.2.0` → `0.2`: how the plan's note names a release. */
export function majorMinor(semver: string): string {
  return semver.split('.').slice(0, 2).join('.');
}

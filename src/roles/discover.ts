import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { RecipeError, type SourceLocation } from '../errors/index.js';
import type { Collection, Role } from '../recipes/model.js';
import { ROLE_NAME } from '../recipes/schema.js';
import { readYamlSource } from '../recipes/yaml-source.js';

/**
 * Local roles under roles/ (with meta/main.yml dependencies) and galaxy roles from
 * roles/requirements.yml. A role declared in requirements.yml is a galaxy role even when
 * `ansible-galaxy install -p roles` has put a copy under roles/: its pinned version, not the
 * installed files, says what it is.
 */
export async function discoverRoles(root: string): Promise<{ roles: Map<string, Role>; errors: RecipeError[] }> {
  const rolesDir = path.join(root, 'roles');
  const roles = new Map<string, Role>();
  const errors: RecipeError[] = [];
  /** Where each dependency was written, so errors point at the line in meta/main.yml. */
  const dependencyLocations = new Map<string, SourceLocation[]>();
  let entries: string[] = [];
  try {
    entries = (await readdir(rolesDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return { roles, errors };
  }
  const galaxy = await readRequirements(rolesDir, errors);
  for (const role of galaxy) roles.set(role.name, role);
  for (const name of entries) {
    if (roles.has(name)) continue;
    const dir = path.join(rolesDir, name);
    // A folder Ansible could not tell from a path (`a..b`) is no role a recipe can name.
    if (!ROLE_NAME.test(name)) {
      errors.push(new RecipeError(`role folder ${JSON.stringify(name)} is not a usable role name`, { file: dir, line: 1, col: 1 }));
      continue;
    }
    if (!(await exists(path.join(dir, 'tasks', 'main.yml')))) {
      errors.push(new RecipeError(`role ${name} has no tasks/main.yml`, { file: dir, line: 1, col: 1 }));
      continue;
    }
    const dependencies: string[] = [];
    const locations: SourceLocation[] = [];
    const metaFile = path.join(dir, 'meta', 'main.yml');
    if (await exists(metaFile)) {
      try {
        const meta = await readYamlSource(metaFile);
        const deps = (meta.value as { dependencies?: unknown } | null)?.dependencies ?? [];
        if (!Array.isArray(deps)) throw new RecipeError('dependencies must be a list', meta.locate(['dependencies']));
        deps.forEach((dep, i) => {
          const depName = typeof dep === 'string' ? dep : (dep as { role?: unknown; name?: unknown } | null)?.role ?? (dep as { name?: unknown } | null)?.name;
          if (typeof depName !== 'string') errors.push(new RecipeError('a dependency is a role name or {role: name}', meta.locate(['dependencies', i])));
          else {
            dependencies.push(depName);
            locations.push(meta.locate(['dependencies', i]));
          }
        });
      } catch (error) {
        if (error instanceof RecipeError) errors.push(error);
        else throw error;
      }
    }
    roles.set(name, { name, dir, dependencies, source: 'local' });
    dependencyLocations.set(name, locations);
  }
  const whereDependency = (role: Role, index: number): SourceLocation =>
    dependencyLocations.get(role.name)?.[index] ?? { file: path.join(role.dir, 'meta', 'main.yml'), line: 1, col: 1 };
  for (const role of roles.values()) {
    role.dependencies.forEach((dep, i) => {
      if (!roles.has(dep)) errors.push(new RecipeError(`role ${role.name} depends on unknown role ${dep}`, whereDependency(role, i)));
    });
  }
  errors.push(...roleCycles(roles, whereDependency));
  return { roles, errors };
}

/** Branch names and the like: they move, so a build from them cannot be reproduced. */
const UNPINNED = new Set(['', 'main', 'master', 'head', 'latest', 'develop', 'development', 'trunk', 'stable']);

/**
 * A requirement's values end up as arguments of ansible-galaxy and git (a role's spec is
 * `src,version,name`): a leading `-` would be read as an option (`-r other-file`, git's
 * `--upload-pack=COMMAND`), a comma would shift the spec's fields, and whitespace or control
 * characters have no place in a source, a version or a name (a leading space even skipped commit
 * pinning). Refused at load, so `bake validate` never runs a tool with them.
 */
function unsafeRequirementValue(fields: Record<string, string>, locate: (key: string) => SourceLocation): RecipeError | undefined {
  for (const [key, value] of Object.entries(fields)) {
    const problem = value.startsWith('-')
      ? 'starts with "-" (it would be read as an option)'
      : value.includes(',')
        ? 'holds a comma'
        : /[\s\u0000-\u001f\u007f-\u009f]/.test(value)
          ? 'holds whitespace or a control character'
          : undefined;
    if (problem) return new RecipeError(`galaxy requirement ${key} ${JSON.stringify(value)} is refused: it ${problem}`, locate(key));
  }
  return undefined;
}

async function readRequirements(rolesDir: string, errors: RecipeError[]): Promise<Role[]> {
  const file = path.join(rolesDir, 'requirements.yml');
  if (!(await exists(file))) return [];
  const out: Role[] = [];
  try {
    const source = await readYamlSource(file);
    const value = source.value as unknown;
    // Both the old list form and the newer `roles:` (next to `collections:`) form.
    const list: unknown = Array.isArray(value) ? value : ((value as { roles?: unknown } | null)?.roles ?? []);
    const listPath = Array.isArray(value) ? [] : ['roles'];
    if (!Array.isArray(list)) throw new RecipeError('roles must be a list of {src, name, version}', source.locate(listPath));
    list.forEach((entry, i) => {
      const where = source.locate([...listPath, i]);
      const req = (entry ?? {}) as { src?: unknown; name?: unknown; version?: unknown; scm?: unknown };
      if (typeof req.src !== 'string' || req.src === '') return errors.push(new RecipeError('a galaxy requirement needs src (and name, version)', where));
      const name = typeof req.name === 'string' ? req.name : req.src.split(/[/,]/).pop()!.replace(/\.git$/, '');
      const version = req.version === undefined || req.version === null ? '' : String(req.version);
      const unsafe = unsafeRequirementValue({ src: req.src, version, name }, (key) => source.locate([...listPath, i, key]));
      if (unsafe) return errors.push(unsafe);
      // The name becomes a folder (roles/<name>, and in images for boot roles): a path in it would
      // make ansible-galaxy (and bake) reach outside roles/.
      if (!ROLE_NAME.test(name)) {
        return errors.push(new RecipeError(`galaxy role name ${JSON.stringify(name)} is not a plain name (letters, digits, _ . -; no / or ..)`, typeof req.name === 'string' ? source.locate([...listPath, i, 'name']) : where));
      }
      if (out.some((role) => role.name === name)) return errors.push(new RecipeError(`galaxy role ${name} is declared twice`, where));
      // Still a known role when unpinned, so recipes naming it get no second, misleading error.
      if (UNPINNED.has(version.toLowerCase()))
        errors.push(
          new RecipeError(`galaxy role ${name} must pin a version (a tag or commit), not ${version ? `"${version}"` : 'none'}`, version ? source.locate([...listPath, i, 'version']) : where),
        );
      out.push({
        name,
        dir: path.join(rolesDir, name),
        dependencies: [],
        source: 'galaxy',
        version,
        src: req.src,
        ...(typeof req.scm === 'string' && { scm: req.scm }),
        location: where,
        versionLocation: version ? source.locate([...listPath, i, 'version']) : where,
      });
    });
  } catch (error) {
    if (error instanceof RecipeError) errors.push(error);
    else throw error;
  }
  return out;
}

/**
 * collections/requirements.yml: `collections:` entries `{name, version, type?, source?}`, each
 * version pinned like a role's. bake installs them (src/roles/galaxy-install.ts).
 */
export async function readCollectionRequirements(root: string): Promise<{ collections: Collection[]; errors: RecipeError[] }> {
  const file = path.join(root, 'collections', 'requirements.yml');
  const collections: Collection[] = [];
  const errors: RecipeError[] = [];
  if (!(await exists(file))) return { collections, errors };
  try {
    const source = await readYamlSource(file);
    const list = (source.value as { collections?: unknown } | null)?.collections ?? [];
    if (!Array.isArray(list)) throw new RecipeError('collections must be a list of {name, version}', source.locate(['collections']));
    list.forEach((entry, i) => {
      const where = source.locate(['collections', i]);
      const req = (typeof entry === 'string' ? { name: entry } : (entry ?? {})) as { name?: unknown; version?: unknown; type?: unknown; source?: unknown };
      if (typeof req.name !== 'string' || req.name === '') return errors.push(new RecipeError('a collection needs name (and version)', where));
      const version = req.version === undefined || req.version === null ? '' : String(req.version);
      const fields = { name: req.name, version, ...(typeof req.source === 'string' && { source: req.source }) };
      const unsafe = unsafeRequirementValue(fields, (key) => (typeof entry === 'string' ? where : source.locate(['collections', i, key])));
      if (unsafe) return errors.push(unsafe);
      if (UNPINNED.has(version.toLowerCase()) || version === '*')
        return errors.push(new RecipeError(`collection ${req.name} must pin a version (a tag, commit or release), not ${version ? `"${version}"` : 'none'}`, version ? source.locate(['collections', i, 'version']) : where));
      collections.push({
        name: req.name,
        version,
        ...(typeof req.type === 'string' && { type: req.type }),
        ...(typeof req.source === 'string' && { source: req.source }),
        location: where,
        versionLocation: source.locate(['collections', i, 'version']),
      });
    });
  } catch (error) {
    if (error instanceof RecipeError) errors.push(error);
    else throw error;
  }
  return { collections, errors };
}

function roleCycles(roles: Map<string, Role>, whereDependency: (role: Role, index: number) => SourceLocation): RecipeError[] {
  const errors: RecipeError[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      // reported where the last role of the cycle names the first one again
      const closing = roles.get(trail[trail.length - 1])!;
      errors.push(new RecipeError(`role dependency cycle: ${cycle.join(' → ')}`, whereDependency(closing, closing.dependencies.indexOf(name))));
      return;
    }
    state.set(name, 'visiting');
    for (const dep of roles.get(name)?.dependencies ?? []) if (roles.has(dep)) visit(dep, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of roles.keys()) visit(name, []);
  return errors;
}

/** The roles a recipe runs, dependencies first, each once. */
export function roleClosure(roles: Map<string, Role>, names: string[]): Role[] {
  const seen = new Set<string>();
  const out: Role[] = [];
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const role = roles.get(name);
    if (!role) return;
    role.dependencies.forEach(visit);
    out.push(role);
  };
  names.forEach(visit);
  return out;
}

/** Every file of a local role, relative to its folder, sorted. */
export async function listRoleFiles(role: Role): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.push(path.relative(role.dir, full));
    }
  };
  if (role.source === 'local') await walk(role.dir);
  return files.sort();
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}


import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { RecipeError } from '../errors/index.js';
import type { Role } from '../recipes/model.js';
import { readYamlSource } from '../recipes/yaml-source.js';

const UNPINNED = new Set(['', 'main', 'master', 'head', 'latest', 'develop', 'trunk']);

/** Local roles under roles/ (with meta/main.yml dependencies) and galaxy roles from roles/requirements.yml. */
export async function discoverRoles(root: string): Promise<{ roles: Map<string, Role>; errors: RecipeError[] }> {
  const rolesDir = path.join(root, 'roles');
  const roles = new Map<string, Role>();
  const errors: RecipeError[] = [];
  let entries: string[] = [];
  try {
    entries = (await readdir(rolesDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return { roles, errors };
  }
  for (const name of entries) {
    const dir = path.join(rolesDir, name);
    if (!(await exists(path.join(dir, 'tasks', 'main.yml')))) {
      errors.push(new RecipeError(`role ${name} has no tasks/main.yml`, { file: dir, line: 1, col: 1 }));
      continue;
    }
    const dependencies: string[] = [];
    const metaFile = path.join(dir, 'meta', 'main.yml');
    if (await exists(metaFile)) {
      try {
        const meta = await readYamlSource(metaFile);
        const deps = (meta.value as { dependencies?: unknown } | null)?.dependencies ?? [];
        if (!Array.isArray(deps)) throw new RecipeError('dependencies must be a list', meta.locate(['dependencies']));
        deps.forEach((dep, i) => {
          const depName = typeof dep === 'string' ? dep : (dep as { role?: unknown })?.role;
          if (typeof depName !== 'string') errors.push(new RecipeError('a dependency is a role name or {role: name}', meta.locate(['dependencies', i])));
          else dependencies.push(depName);
        });
      } catch (error) {
        if (error instanceof RecipeError) errors.push(error);
        else throw error;
      }
    }
    roles.set(name, { name, dir, dependencies, source: 'local' });
  }
  const requirementsFile = path.join(rolesDir, 'requirements.yml');
  if (await exists(requirementsFile)) {
    try {
      const source = await readYamlSource(requirementsFile);
      const value = source.value as unknown;
      const list = Array.isArray(value) ? value : ((value as { roles?: unknown[] } | null)?.roles ?? []);
      const listPath = Array.isArray(value) ? [] : ['roles'];
      list.forEach((entry, i) => {
        const req = entry as { src?: string; name?: string; version?: unknown };
        const where = source.locate([...listPath, i]);
        const name = req.name ?? req.src?.split('/').pop()?.replace(/\.git$/, '');
        if (!name || !req.src) return errors.push(new RecipeError('a galaxy requirement needs src (and name)', where));
        const version = req.version === undefined ? '' : String(req.version);
        if (UNPINNED.has(version.toLowerCase()))
          return errors.push(new RecipeError(`galaxy role ${name} must pin a version (a tag or commit), not "${version || 'unset'}"`, where));
        if (!roles.has(name)) roles.set(name, { name, dir: path.join(rolesDir, name), dependencies: [], source: 'galaxy', version, src: req.src });
      });
    } catch (error) {
      if (error instanceof RecipeError) errors.push(error);
      else throw error;
    }
  }
  for (const role of roles.values()) {
    for (const dep of role.dependencies) {
      if (!roles.has(dep)) errors.push(new RecipeError(`role ${role.name} depends on unknown role ${dep}`, { file: path.join(role.dir, 'meta', 'main.yml'), line: 1, col: 1 }));
    }
  }
  errors.push(...roleCycles(roles));
  return { roles, errors };
}

function roleCycles(roles: Map<string, Role>): RecipeError[] {
  const errors: RecipeError[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      const role = roles.get(name)!;
      errors.push(new RecipeError(`role dependency cycle: ${cycle.join(' → ')}`, { file: path.join(role.dir, 'meta', 'main.yml'), line: 1, col: 1 }));
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


/**
 * The installed packages of an image as a CycloneDX JSON SBOM, written with the CycloneDX
 * project's own library (@cyclonedx/cyclonedx-library: the spec's models and its normalizer, so
 * the output follows the schema it names), and read back with a zod check of the few fields bake
 * uses, to diff an image's packages against the image it replaces.
 */
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import { z } from 'zod';

export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
}

export { IMAGE_SBOM_PATH } from './image-sbom-path.js';

/** One package a line, `name<TAB>version<TAB>arch`, as `dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n'` prints them. */
export function parseDpkgList(text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [name, version, arch, ...rest] = line.split('\t');
    if (!name || !version || !arch || rest.length)
      throw new Error(`unexpected dpkg-query line: ${JSON.stringify(line)}`);
    packages.push({ name, version, arch });
  }
  return packages.sort(byNameArch);
}

const byNameArch = (a: InstalledPackage, b: InstalledPackage) =>
  a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch);

/** Package URL of a Debian package (purl spec: version and qualifiers percent-encoded). */
export function debPurl(p: InstalledPackage): string {
  return `pkg:deb/debian/${encodeURIComponent(p.name)}@${encodeURIComponent(p.version)}?arch=${encodeURIComponent(p.arch)}`;
}

export interface SbomSubject {
  recipe: string;
  fingerprint: string;
  builtAt: string;
}

export function packageSbom(packages: InstalledPackage[], subject: SbomSubject): string {
  const bom = new Models.Bom();
  bom.metadata.timestamp = new Date(subject.builtAt);
  bom.metadata.component = new Models.Component(Enums.ComponentType.OperatingSystem, subject.recipe, {
    version: subject.fingerprint,
    bomRef: `image:${subject.recipe}@${subject.fingerprint}`,
  });
  for (const p of packages) {
    bom.components.add(
      new Models.Component(Enums.ComponentType.Library, p.name, {
        version: p.version,
        purl: debPurl(p),
        bomRef: debPurl(p),
        properties: new Models.PropertyRepository([new Models.Property('bake:arch', p.arch)]),
      }),
    );
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot5));
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}

const sbomSchema = z.object({
  bomFormat: z.literal('CycloneDX'),
  components: z
    .array(
      z.object({
        name: z.string(),
        version: z.string().default(''),
        properties: z.array(z.object({ name: z.string(), value: z.string().default('') })).default([]),
      }),
    )
    .default([]),
});

/** The packages of a manifest bake wrote (or any CycloneDX JSON whose components carry `bake:arch`). */
export function packagesFromSbom(text: string, where: string): InstalledPackage[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: not JSON (${(error as Error).message})`);
  }
  const parsed = sbomSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`${where}: not a CycloneDX SBOM (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data.components
    .map((c) => ({
      name: c.name,
      version: c.version,
      arch: c.properties.find((p) => p.name === 'bake:arch')?.value ?? '',
    }))
    .sort(byNameArch);
}

export interface PackageChanges {
  added: Array<InstalledPackage>;
  removed: Array<InstalledPackage>;
  changed: Array<{ name: string; arch: string; before: string; after: string }>;
}

export function packageChanges(before: InstalledPackage[], after: InstalledPackage[]): PackageChanges {
  const key = (p: InstalledPackage) => `${p.name}:${p.arch}`;
  const old = new Map(before.map((p) => [key(p), p]));
  const now = new Map(after.map((p) => [key(p), p]));
  return {
    added: after.filter((p) => !old.has(key(p))),
    removed: before.filter((p) => !now.has(key(p))),
    changed: after.flatMap((p) => {
      const was = old.get(key(p));
      return was && was.version !== p.version
        ? [{ name: p.name, arch: p.arch, before: was.version, after: p.version }]
        : [];
    }),
  };
}

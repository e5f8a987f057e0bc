/**
 * Where every baked image carries its own manifest (docs/build.md). A module of its own: the
 * playbook and the build name the path without loading the CycloneDX library at bake's start.
 */
export const IMAGE_SBOM_PATH = '/usr/share/bake/packages.cdx.json';

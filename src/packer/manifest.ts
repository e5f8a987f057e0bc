/**
 * Packer's `manifest` post-processor output. The AMI ids come from here, never from scraping
 * Packer's console output: the manifest is Packer's own structured record of the artifact.
 *
 * The post-processor APPENDS a build entry on every run and sets `last_run_uuid`, so a reused
 * work directory holds older entries; we read the last entry of the requested (or last) run.
 */
import { readFile } from 'node:fs/promises';
import { BuildFailure } from '../errors/index.js';

export interface PackerManifest {
  builds: Array<{
    name?: string;
    builder_type?: string;
    build_time?: number;
    artifact_id?: string;
    packer_run_uuid?: string;
  }>;
  last_run_uuid?: string;
}

/** `us-east-1:ami-1,eu-west-1:ami-2` → {us-east-1: ami-1, eu-west-1: ami-2}. */
export function parseArtifactId(artifactId: string): Record<string, string> {
  const amis: Record<string, string> = {};
  for (const part of artifactId.split(',')) {
    const entry = part.trim();
    if (!entry) continue;
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1) throw new Error(`not a region:ami pair: "${entry}"`);
    amis[entry.slice(0, colon)] = entry.slice(colon + 1);
  }
  return amis;
}

/** The AMIs of one run in a manifest's text. `file` is only for messages. */
export function amisFromManifest(text: string, file: string, runUuid?: string): Record<string, string> {
  let manifest: PackerManifest;
  try {
    manifest = JSON.parse(text) as PackerManifest;
  } catch (error) {
    throw new BuildFailure(`${file}: Packer manifest is not JSON (${(error as Error).message})`);
  }
  const builds = Array.isArray(manifest?.builds) ? manifest.builds : [];
  const uuid = runUuid ?? manifest.last_run_uuid;
  const ofRun = uuid === undefined ? builds : builds.filter((build) => build.packer_run_uuid === uuid);
  const build = ofRun[ofRun.length - 1];
  if (!build?.artifact_id) {
    throw new BuildFailure(`${file}: Packer manifest has no artifact${uuid ? ` for run ${uuid}` : ''}`);
  }
  try {
    const amis = parseArtifactId(build.artifact_id);
    if (Object.keys(amis).length === 0) throw new Error('empty artifact_id');
    return amis;
  } catch (error) {
    throw new BuildFailure(`${file}: Packer manifest artifact_id ${(error as Error).message}`);
  }
}

export async function readManifest(file: string, runUuid?: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new BuildFailure(`${file}: Packer wrote no manifest (is the "manifest" post-processor in the template?)`);
  }
  return amisFromManifest(text, file, runUuid);
}

/** The real edges of `bake doctor`: AWS (or the endpoint, or the local cloud) and the agent's own tools. */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { createDoctorCloud } from '../aws/doctor-cloud.js';
import type { AwsSettings } from '../aws/settings.js';
import { parsePackerVersion, shapeOfVersion } from '../packer/shape.js';
import type { AgentTools, DoctorDeps } from './doctor.js';

/** Tools as found on `env.PATH`: the version line each prints, or undefined when it is not there. */
export function agentTools(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.()): AgentTools {
  return {
    async version(command, args) {
      try {
        // `ssh -V` answers on stderr; Packer's update check is switched off as in the build.
        const result = await execa(command, args, {
          env: { ...env, CHECKPOINT_DISABLE: '1' },
          extendEnv: false,
          stdin: 'ignore',
          timeout: 30_000,
          reject: false,
        });
        if ((result as { code?: string }).code === 'ENOENT' || (result.failed && result.exitCode === undefined))
          return undefined;
        return `${result.stdout}\n${result.stderr}`.trim() || `${command} (no version printed)`;
      } catch {
        return undefined;
      }
    },
    packerShape(versionLine) {
      const version = parsePackerVersion(versionLine);
      return version ? shapeOfVersion(version) : undefined;
    },
    nodeVersion: process.version,
    isRoot: uid === 0,
    procMountinfo: () => readFile('/proc/self/mountinfo', 'utf8').catch(() => undefined),
  };
}

export function productionDoctorDeps(aws: AwsSettings, homeRegion: string, env?: NodeJS.ProcessEnv): DoctorDeps {
  return { cloud: createDoctorCloud(aws, homeRegion), tools: agentTools(env), now: () => Date.now() };
}

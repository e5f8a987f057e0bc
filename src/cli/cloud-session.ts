import path from 'node:path';
import type { AwsSettings } from '../aws/settings.js';
import { startLocalCloud } from '../local-cloud/index.js';
import type { PackerTarget } from '../packer/target.js';
import type { CommandContext } from './context.js';

/** Where a command's EC2 calls (and Packer) go: real AWS, an --endpoint, or the embedded local cloud. */
export interface CloudSession {
  aws: AwsSettings;
  target?: PackerTarget;
  /** Environment for child processes (Packer reads the same SDK chain; --profile must reach it too). */
  packerEnv?: Record<string, string | undefined>;
}

export async function withCloud<T>(ctx: CommandContext, action: (session: CloudSession) => Promise<T>): Promise<T> {
  const profileEnv = ctx.aws.profile ? { AWS_PROFILE: ctx.aws.profile } : undefined;
  if (!ctx.local) {
    const target = ctx.aws.endpoint ? { ec2Endpoint: ctx.aws.endpoint } : undefined;
    return action({ aws: ctx.aws, target, packerEnv: profileEnv });
  }
  const cloud = await startLocalCloud({ stateDir: path.join(ctx.dir, '.bake', 'local') });
  try {
    // The SDK's credential chain must find something; the local cloud accepts any key.
    process.env.AWS_ACCESS_KEY_ID ??= cloud.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY ??= cloud.env.AWS_SECRET_ACCESS_KEY;
    return await action({
      aws: { ...ctx.aws, endpoint: cloud.endpoint },
      target: { ec2Endpoint: cloud.endpoint, local: { sshPort: cloud.sshPort } },
      packerEnv: { ...profileEnv, ...cloud.env },
    });
  } finally {
    await cloud.close();
  }
}

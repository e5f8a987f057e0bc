import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { shellQuote } from '../escape/shell-word.js';
import { ownIdentity } from '../files/process-identity.js';
import { writePrivateFile } from '../files/write-private-file.js';
import { startLocalCloud } from '../local-cloud/index.js';
import { localCloudEnv, localCloudLog, SHARED_PROCESS_ENV } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { untilAborted, whileInterruptible } from './interrupt.js';
import { runCommand } from './run-command.js';

interface LocalCloudFlags extends CommonFlags {
  writeEnv?: string;
}

/**
 * `bake local-cloud`: one embedded local cloud that several bake processes share (as Jenkins
 * agents share one AWS account). Every `bake … --local` started with the printed variables
 * attaches to it instead of starting its own.
 */
export function localCloudCommand(): Command {
  return (
    withCommonFlags(new Command('local-cloud'), { cloud: false })
      .description(
        'serve the embedded local cloud (state under DIR/.bake/local) until interrupted, for several bake processes at once',
      )
      // Not --env-file: Node 20 takes that flag for itself even after the script name.
      .option(
        '--write-env <file>',
        'write the variables, credentials included, to this file (sh syntax, 0600) once the cloud is up (default DIR/.bake/local/env)',
      )
      .action(async (flags: LocalCloudFlags) => {
        const ctx = contextFrom(flags);
        // Ctrl-C or SIGTERM stops it: instances are shut down and the state saved before it exits.
        await runCommand(ctx, () =>
          whileInterruptible({}, async (stop) => {
            const stateDir = path.join(ctx.dir, '.bake', 'local');
            const cloud = await startLocalCloud({
              stateDir,
              log: localCloudLog(ctx),
              notice: (message) => ctx.output.progress(`local cloud: ${message}`),
            });
            let envFile: string | undefined;
            let written: string | undefined;
            try {
              const env = { ...localCloudEnv(cloud), [SHARED_PROCESS_ENV]: ownIdentity() };
              const exports = (entries: Array<[string, string]>) =>
                entries.map(([key, value]) => `export ${key}=${shellQuote(value)}\n`).join('');
              envFile = path.resolve(flags.writeEnv ?? path.join(stateDir, 'env'));
              written = exports(Object.entries(env));
              await writePrivateFile(envFile, written);
              // stdout is often a build log: everything but the secret, which only the 0600 file holds.
              const shown = Object.entries(env).filter(([key]) => key !== 'AWS_SECRET_ACCESS_KEY');
              ctx.output.result({ endpoint: cloud.endpoint, env: Object.fromEntries(shown), env_file: envFile });
              ctx.output.text(exports(shown));
              ctx.output.progress(
                `local cloud at ${cloud.endpoint}: \`. ${shellQuote(envFile)}\` (credentials, 0600), then run bake with --local; Ctrl-C stops it`,
              );
              await untilAborted(stop);
            } finally {
              await cloud.close();
              // The variables name a cloud that is gone now: the file goes with it (if it is still the one written).
              if (envFile && written && (await readFile(envFile, 'utf8').catch(() => undefined)) === written)
                await unlink(envFile).catch(() => undefined);
            }
          }),
        );
      })
  );
}

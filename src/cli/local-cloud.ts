import path from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { startLocalCloud } from '../local-cloud/index.js';
import { localCloudEnv } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

/** POSIX single quotes: nothing inside them is special except the quote itself. */
const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

interface LocalCloudFlags extends CommonFlags {
  writeEnv?: string;
}

/**
 * `bake local-cloud`: one embedded local cloud that several bake processes share (as Jenkins
 * agents share one AWS account). Every `bake … --local` started with the printed variables
 * attaches to it instead of starting its own.
 */
export function localCloudCommand(): Command {
  return withCommonFlags(new Command('local-cloud'), { cloud: false })
    .description('serve the embedded local cloud (state under DIR/.bake/local) until interrupted, for several bake processes at once')
    // Not --env-file: Node 20 takes that flag for itself even after the script name.
    .option('--write-env <file>', 'also write the variables to this file (sh syntax) once the cloud is up')
    .action(async (flags: LocalCloudFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx.debug, async () => {
        const cloud = await startLocalCloud({ stateDir: path.join(ctx.dir, '.bake', 'local') });
        const stopped = new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        try {
          const env = localCloudEnv(cloud);
          const lines = Object.entries(env).map(([key, value]) => `export ${key}=${shellQuote(value)}`);
          if (flags.writeEnv) await writeFileAtomic(path.resolve(flags.writeEnv), `${lines.join('\n')}\n`);
          ctx.output.result(env);
          if (!ctx.output.json) for (const line of lines) process.stdout.write(`${line}\n`);
          // stdout holds only the variables (or the JSON); the note for people goes to stderr.
          process.stderr.write(`local cloud at ${cloud.endpoint}: run bake with --local and these variables; Ctrl-C stops it\n`);
          await stopped;
        } finally {
          await cloud.close();
        }
      });
    });
}

import { Command } from 'commander';
import { initBakery, initExitCode, initJson, initLines, initNextSteps } from '../pipeline/init-bakery.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface InitFlags extends CommonFlags {
  name?: string;
  check?: boolean;
}

export function initCommand(): Command {
  return withCommonFlags(new Command('init'), { cloud: false })
    .description(
      'start a bakery in --dir: config, a base recipe with a launch test, a role, cloud-init, an example Terraform stack, a Jenkinsfile; never overwrites a file',
    )
    .option('--name <name>', 'the bakery name (bake:bakery); default: from the git remote, else the folder')
    .option('--check', 'write nothing: list what would be created (exit 2 when something would)')
    .action(async (flags: InitFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const result = await initBakery(ctx.dir, { name: flags.name, check: flags.check });
        for (const line of initLines(result)) ctx.output.info(line);
        for (const line of initNextSteps(result)) ctx.output.progress(line);
        ctx.output.result(initJson(result));
        return initExitCode(result, Boolean(flags.check));
      });
    });
}

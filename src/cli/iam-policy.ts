import { Command } from 'commander';
import { iamPolicy, iamPolicyJson } from '../pipeline/iam-policy.js';
import { loadBakery } from '../recipes/load-bakery.js';
import { noteBakeryName } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

export function iamPolicyCommand(): Command {
  return withCommonFlags(new Command('iam-policy'), { cloud: false })
    .description(
      "print the least-privilege IAM policy this bakery's bake needs (the actions bake doctor probes); offline",
    )
    .action(async (flags: CommonFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const bakery = await loadBakery(ctx.dir);
        noteBakeryName(ctx, bakery);
        const result = iamPolicy(bakery);
        ctx.output.result(iamPolicyJson(result));
        ctx.output.text(JSON.stringify(result.policy, null, 2));
      });
    });
}

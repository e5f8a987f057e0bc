#!/usr/bin/env node
import { Command } from 'commander';

/**
 * Each command's module, loaded only when needed: loading all of them (the AWS SDK, the
 * pipeline, the local cloud) took one to two seconds of CPU on every start, even for
 * `bake validate` or a one-line refusal. `bake <command> …` loads that command alone;
 * anything else (`bake --help`, `bake help …`, a mistyped name) loads them all, so the command
 * list, help and suggestions are what they always were.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./validate.js')).validateCommand(),
  render: async () => (await import('./render.js')).renderCommand(),
  plan: async () => (await import('./plan.js')).planCommand(),
  build: async () => (await import('./build.js')).buildCommand(),
  pin: async () => (await import('./pin.js')).pinCommand(),
  prune: async () => (await import('./prune.js')).pruneCommand(),
  verify: async () => (await import('./verify.js')).verifyCommand(),
  images: async () => (await import('./images.js')).imagesCommand(),
  graph: async () => (await import('./graph.js')).graphCommand(),
  'local-cloud': async () => (await import('./local-cloud.js')).localCloudCommand(),
  init: async () => (await import('./init.js')).initCommand(),
  // Security freshness (issue 24).
  scan: async () => (await import('./scan.js')).scanCommand(),
  // First run on a real account (issue 25).
  doctor: async () => (await import('./doctor.js')).doctorCommand(),
  'iam-policy': async () => (await import('./iam-policy.js')).iamPolicyCommand(),
  // Environments (issue 23): promote, rollback, revoke.
  promote: async () => (await import('./promote.js')).promoteCommand(),
  rollback: async () => (await import('./rollback.js')).rollbackCommand(),
  revoke: async () => (await import('./revoke.js')).revokeCommand(),
};

/** `bake --version` (or `-V`) alone: bake's, the generator's and Packer's versions, without loading a command. */
const VERSION_FLAGS = ['--version', '-V'];

/** The program with the commands that `argv` (node, script, args…) can reach. */
export async function program(argv: string[] = process.argv): Promise<Command> {
  const named = argv[2];
  const names = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  const commands = await Promise.all(names.map((name) => COMMANDS[name]()));
  const bake = new Command('bake')
    .description('An image bakery for AWS: recipes → Packer → tagged AMIs → pinned in tfvars')
    .option('-V, --version', "print bake's version, its generator version and the Packer shape it will use")
    .showHelpAfterError();
  for (const command of commands) bake.addCommand(command);
  return bake;
}

if (process.argv.length === 3 && VERSION_FLAGS.includes(process.argv[2]))
  await (await import('./version.js')).printVersion();
else await (await program()).parseAsync(process.argv);

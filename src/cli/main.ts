#!/usr/bin/env node
import { Command } from 'commander';
import { validateCommand } from './validate.js';
import { renderCommand } from './render.js';
import { planCommand } from './plan.js';
import { buildCommand } from './build.js';
import { pinCommand } from './pin.js';
import { pruneCommand } from './prune.js';
import { verifyCommand } from './verify.js';
import { localCloudCommand } from './local-cloud.js';
import { graphCommand } from './graph.js';
import { imagesCommand } from './images.js';

export function program(): Command {
  return new Command('bake')
    .description('An image bakery for AWS: recipes → Packer → tagged AMIs → pinned in tfvars')
    .version('0.1.0')
    .showHelpAfterError()
    .addCommand(validateCommand())
    .addCommand(renderCommand())
    .addCommand(planCommand())
    .addCommand(buildCommand())
    .addCommand(pinCommand())
    .addCommand(pruneCommand())
    .addCommand(verifyCommand())
    .addCommand(imagesCommand())
    .addCommand(graphCommand())
    .addCommand(localCloudCommand());
}

await program().parseAsync(process.argv);

/**
 * The real side effects of `bake build`, wired once: Packer on this machine, EC2 through the
 * SDK, tfvars on disk, git, the wall clock. Tests build their own BuildDeps instead.
 */
import type { AwsSettings } from '../aws/settings.js';
import { tagImage } from '../aws/tag-image.js';
import { lookupGitCommit } from '../git/commit.js';
import { readManifest } from '../packer/manifest.js';
import { renderRecipe } from '../packer/render.js';
import { runPackerBuild } from '../packer/runner.js';
import type { PackerShape, PackerTarget } from '../packer/target.js';
import { writePackerVariables } from '../packer/variables.js';
import type { Bakery } from '../recipes/model.js';
import type { BuildDeps } from './build.js';
import { pinImages } from './pin.js';

export interface ProductionBuildSetup {
  bakery: Bakery;
  aws: AwsSettings;
  shape: PackerShape;
  target?: PackerTarget;
  packerBin?: string;
  env?: NodeJS.ProcessEnv;
}

export function productionBuildDeps(setup: ProductionBuildSetup): BuildDeps {
  return {
    render: (recipe, outDir) => renderRecipe(setup.bakery, recipe, outDir, { shape: setup.shape, target: setup.target }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: setup.packerBin }),
    readManifest: (file) => readManifest(file),
    tagImage: async (region, imageId, tags) => void (await tagImage(setup.aws, region, imageId, tags)),
    pin: (requests) => pinImages(requests, { check: false }),
    gitCommit: () => lookupGitCommit(setup.bakery.root, setup.env ?? process.env),
    now: () => new Date(),
  };
}

/**
 * The real side effects of `bake build`, wired once: Packer on this machine, EC2 through the
 * SDK, tfvars on disk, git, the wall clock. Tests build their own BuildDeps instead.
 */
import { clearPackageManifest, keepPackageManifest } from '../sbom/build-manifest.js';
import { cachedClients, findImagesWithFingerprint } from '../aws/image-catalog.js';
import { ec2RecipeLocks } from '../aws/recipe-lock.js';
import type { AwsSettings } from '../aws/settings.js';
import { setImageDescription, tagImage } from '../aws/tag-image.js';
import { createParameterStore } from '../aws/ssm-parameters.js';
import { createBuildRecords } from '../aws/build-records.js';
import { createImageDistribution } from '../aws/image-distribution.js';
import { distributeImage } from '../lifecycle/distribute.js';
import { lookupGitCommit } from '../git/commit.js';
import { readManifest } from '../packer/manifest.js';
import { renderRecipe } from '../packer/render.js';
import { runPackerBuild } from '../packer/runner.js';
import type { PackerShape, PackerTarget } from '../packer/target.js';
import { writePackerVariables } from '../packer/variables.js';
import type { Bakery } from '../recipes/model.js';
import { appendBuildLog } from './build-log.js';
import type { BuildDeps } from './build.js';
import { pinImages, pinRootsOf } from './pin.js';
import { pinSsmParameters } from './pin-ssm.js';
import { recordPins } from './environment-pins.js';
import { createLifecycleEc2 } from '../aws/image-lifecycle.js';
import { readSecureParameter } from '../aws/secure-parameter.js';
import { resolveSecrets } from '../secrets/resolve.js';
import { acquireRecipeLock, type LockPolicy } from './recipe-lock.js';
import { ec2TestInstanceSession } from '../aws/test-instance.js';
import { discardImage } from '../aws/discard-image.js';
import { runLaunchTest, type LaunchTestTarget } from '../launch-test/launch-test.js';
import { sshRemoteMachine } from '../launch-test/remote.js';

export interface ProductionBuildSetup {
  bakery: Bakery;
  aws: AwsSettings;
  shape: PackerShape;
  target?: PackerTarget;
  packerBin?: string;
  env?: NodeJS.ProcessEnv;
  /** Each recipe's bake holds its EC2 build lock (src/pipeline/recipe-lock.ts); absent: no lock. */
  lock?: LockPolicy;
  /** Where lock waits and take-overs are told. */
  note?: (message: string) => void;
}

/** How launch tests reach their instances: SSH as the recipe's ssh_username, on port 22 (or the local cloud's port). */
export function launchTestTarget(target: PackerTarget | undefined): LaunchTestTarget {
  return { sshPort: target?.local?.sshPort ?? 22, ...(target?.local && { local: true }) };
}

export function productionBuildDeps(setup: ProductionBuildSetup): BuildDeps {
  const clients = cachedClients(setup.aws);
  const locks = ec2RecipeLocks(clients, setup.bakery.config.bakery);
  const lock = setup.lock;
  const parameterStore = createParameterStore(setup.aws);
  const records = createBuildRecords(setup.aws, setup.bakery.config.bakery);
  return {
    records,
    render: (recipe, outDir) =>
      renderRecipe(setup.bakery, recipe, outDir, { shape: setup.shape, target: setup.target }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: setup.packerBin }),
    readManifest: (file) => readManifest(file),
    appendLog: appendBuildLog,
    tagImage: async (region, imageId, tags) => void (await tagImage(setup.aws, region, imageId, tags)),
    describeImage: (region, imageId, description) => setImageDescription(setup.aws, region, imageId, description),
    distribute: (request) => distributeImage(createImageDistribution(setup.aws, { clients }), request),
    pin: (requests) => pinImages(requests, { check: false, roots: pinRootsOf(setup.bakery) }),
    pinParameters: (requests) => pinSsmParameters(requests, parameterStore, { check: false }),
    recordPins: (environment, requests) =>
      recordPins(createLifecycleEc2(setup.aws, clients), environment, requests, new Date()),
    discardImage: (region, imageId) =>
      discardImage(clients(region), region, imageId, { timeScale: setup.aws.timeScale }),
    launchTest: (request) =>
      runLaunchTest(
        { ...request, bakery: setup.bakery, target: launchTestTarget(setup.target) },
        {
          session: (region) => ec2TestInstanceSession(clients(region), region),
          remote: sshRemoteMachine,
          now: () => Date.now(),
        },
      ),
    resolveSecrets: (recipes) =>
      resolveSecrets(recipes, {
        env: setup.env ?? process.env,
        readParameter: (region, name) => readSecureParameter(setup.aws, region, name),
      }),
    packageManifests: { clear: clearPackageManifest, keep: keepPackageManifest },
    gitCommit: () => lookupGitCommit(setup.bakery.root, setup.env ?? process.env),
    now: () => new Date(),
    ...(lock && {
      lockRecipe: (entry, signal) =>
        acquireRecipeLock(
          locks,
          {
            recipe: entry.name,
            region: entry.recipe.regions[0],
            fingerprint: entry.fingerprint,
            bakery: setup.bakery.config.bakery,
          },
          lock,
          { signal, note: setup.note },
        ),
      findImages: async (entry) => {
        // Another job's image counts only when that job recorded it, like in plan.
        const query = { recipe: entry.name, fingerprint: entry.fingerprint, regions: entry.recipe.regions };
        const recorded = (await records.read([query])).get(entry.name) ?? {};
        return findImagesWithFingerprint(
          clients,
          entry.name,
          entry.fingerprint,
          entry.recipe.regions,
          {
            bakery: setup.bakery.config.bakery,
            legacyName: setup.bakery.config.bakeryLegacyName,
            recipes: new Set(setup.bakery.recipes.map((r) => r.name)),
          },
          Object.fromEntries(Object.entries(recorded).map(([region, record]) => [region, record.imageId])),
        );
      },
    }),
  };
}

/**
 * The real edges of `bake scan`: this bakery's images from EC2 (or the endpoint given), the scan's
 * machine through the launch test's EC2 session and SSH, tags through CreateTags, the SBOM and the
 * log lines under `.bake/logs/<run-id>/`.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { cachedClients, createImageCatalog } from '../aws/image-catalog.js';
import type { AwsSettings } from '../aws/settings.js';
import { tagImage } from '../aws/tag-image.js';
import { ec2TestInstanceSession } from '../aws/test-instance.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { sshRemoteMachine } from '../launch-test/remote.js';
import type { ParameterStore } from '../aws/ssm-parameters.js';
import type { PackerTarget } from '../packer/target.js';
import type { Bakery } from '../recipes/model.js';
import { scanImage } from '../scan/scan-image.js';
import { appendBuildLog, logFileOf } from './build-log.js';
import { readEnvironmentPins } from './environment-pins.js';
import { launchTestTarget } from './build-deps.js';
import { ownImages } from './plan-deps.js';
import type { ScanDeps } from './scan.js';

export interface ProductionScanSetup {
  bakery: Bakery;
  aws: AwsSettings;
  target?: PackerTarget;
  runId: string;
  /** SSM, for the pins of `--env`. */
  store: ParameterStore;
  /** Where each line of a recipe's scan is also told (progress on stderr). */
  note(recipe: string, line: string): void;
}

export function productionScanDeps(setup: ProductionScanSetup): ScanDeps {
  const clients = cachedClients(setup.aws);
  const root = setup.bakery.root;
  return {
    catalog: ownImages(createImageCatalog(setup.aws), setup.bakery),
    scanImage: (request) =>
      scanImage(
        { ...request, target: launchTestTarget(setup.target) },
        {
          session: (region) => ec2TestInstanceSession(clients(region), region),
          remote: sshRemoteMachine,
          now: () => Date.now(),
        },
      ),
    tagImage: async (region, imageId, tags) => void (await tagImage(setup.aws, region, imageId, tags, clients(region))),
    keepSbom: async (recipe, text) => {
      // Beside a build's `<recipe>.cdx.json`: the next build's package diff takes the newest run's.
      const file = path.join(path.dirname(logFileOf(root, setup.runId, recipe)), `${recipe}.cdx.json`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, text);
      return file;
    },
    log: async (recipe, line) => {
      setup.note(recipe, line);
      await appendBuildLog(logFileOf(root, setup.runId, recipe), `# bake: ${line}\n`);
    },
    now: () => new Date(),
    environmentPins: (recipe, environment) => readEnvironmentPins(setup.bakery, recipe, environment, setup.store),
  };
}

/**
 * The real edges of `bake prune`: EC2 through the SDK (or the endpoint given), the tfvars on
 * disk and SSM pin parameters, today's fingerprints (from content ids and base images only, as
 * plan computes them: src/fingerprint/fingerprint-bakery.ts), the clock.
 */
import { resolveBaseImage } from '../aws/base-image.js';
import { createPruneEc2 } from '../aws/prune-images.js';
import type { AwsSettings } from '../aws/settings.js';
import { createParameterStore } from '../aws/ssm-parameters.js';
import { contentIdSourceFor } from '../fingerprint/content-ids.js';
import { fingerprintBakery, readFingerprintFacts } from '../fingerprint/fingerprint-bakery.js';
import { GENERATOR_VERSION } from '../packer/generator-version.js';
import { readPinnedAmis } from '../tfvars/pinned-values.js';
import { readSsmPinnedAmis } from './pin-ssm.js';
import type { BaseImage, Bakery } from '../recipes/model.js';
import type { PruneDeps } from '../lifecycle/prune.js';

export function productionPruneDeps(bakery: Bakery, aws: AwsSettings): PruneDeps {
  return {
    ec2: createPruneEc2(aws),
    readPinned: readPinnedAmis,
    async readSsmPinned(recipes) {
      const store = createParameterStore(aws);
      try {
        return await readSsmPinnedAmis(recipes, store);
      } finally {
        store.close();
      }
    },
    async currentFingerprints(recipes) {
      const sources = {
        contentIds: await contentIdSourceFor(bakery.root),
        resolveBase: (base: BaseImage, region: string) => resolveBaseImage(aws, base, region),
      };
      const fingerprints = fingerprintBakery(
        bakery,
        recipes,
        await readFingerprintFacts(bakery, recipes, sources, GENERATOR_VERSION),
      );
      return new Map(recipes.map((recipe) => [recipe.name, fingerprints.get(recipe.name)!.fingerprint.value]));
    },
    now: () => new Date(),
  };
}

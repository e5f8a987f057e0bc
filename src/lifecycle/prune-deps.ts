/**
 * The real edges of `bake prune`: EC2 through the SDK (or the endpoint given), the tfvars on
 * disk and SSM pin parameters, today's fingerprints from the plan (fed the listing prune already made), the clock.
 */
import { createPruneEc2 } from '../aws/prune-images.js';
import type { AwsSettings } from '../aws/settings.js';
import { readPinnedAmis } from '../pipeline/pin.js';
import { readSsmPinnedAmis } from '../pipeline/pin-ssm.js';
import { createParameterStore } from '../aws/ssm-parameters.js';
import { planBakery } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import type { Bakery } from '../recipes/model.js';
import type { PruneDeps } from './prune.js';

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
    async currentFingerprints(recipes, images) {
      const deps = await productionPlanDeps(bakery, aws);
      const plan = await planBakery(bakery, recipes, { ...deps, catalog: { listBakedImages: async () => images } });
      return new Map(plan.recipes.map((entry) => [entry.name, entry.fingerprint]));
    },
    now: () => new Date(),
  };
}

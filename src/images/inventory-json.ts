/** `bake images --json`: the inventory in the snake_case keys of every --json document (schema/images.schema.json). */
import type { Inventory } from './inventory.js';
import { splitRecipeKey } from '../tags/architecture.js';

export function inventoryJson(inventory: Inventory): unknown {
  return {
    recipes: inventory.recipes.map((recipe) => ({
      name: recipe.name,
      arch: splitRecipeKey(recipe.name).architecture,
      fingerprint: recipe.fingerprint,
      regions: recipe.regions.map((region) => ({
        region: region.region,
        ...(region.current ? { current: region.current } : {}),
        images: region.images.map((image) => ({
          image_id: image.imageId,
          region: image.region,
          fingerprint: image.fingerprint,
          current: image.current,
          state: image.state,
          built_at: image.builtAt,
          age_days: image.ageDays,
          ...(image.deprecationTime ? { deprecation_time: image.deprecationTime } : {}),
          ...(image.launchTest ? { launch_test: image.launchTest } : {}),
          sharing: image.sharing,
          pinned_by: image.pinnedBy,
          ...(image.scan && {
            scan: {
              scanned_at: image.scan.at,
              pending: image.scan.pending,
              ...(image.scan.pendingSince && { pending_since: image.scan.pendingSince }),
              packages: image.scan.packages,
            },
          }),
          environments: image.environments.map((e) => ({
            environment: e.environment,
            ...(e.since && { since: e.since }),
          })),
          promotions: image.promotions.map((p) => ({
            environment: p.environment,
            at: p.at,
            ...(p.approvedBy && { approved_by: p.approvedBy }),
          })),
          ...(image.revoked && { revoked: image.revoked }),
        })),
      })),
    })),
    attention: inventory.attention.map((a) => ({
      kind: a.kind,
      recipe: a.recipe,
      region: a.region,
      place: a.place,
      ...(a.ami ? { ami: a.ami } : {}),
      ...(a.overdue !== undefined && { overdue: a.overdue }),
      message: a.message,
    })),
  };
}

import { renderCloudInitEntry } from '../cloud-init/render.js';
import { RecipeError } from '../errors/index.js';
import { renderUserData, renderUserDataPart } from '../launch-test/user-data.js';
import { readBakery, sortedErrors } from '../recipes/load-bakery.js';
import type { Bakery } from '../recipes/model.js';

/**
 * What `bake validate` checks: the bakery as loadBakery reads it, plus every cloud-init entry and
 * launch-test user-data rendered. Templates of the recipes that loaded are rendered even when
 * other files have problems, so one run reports everything.
 */
export async function validateBakery(root: string): Promise<{ bakery: Bakery; cloudInitCount: number }> {
  const { bakery, errors } = await readBakery(root);
  let cloudInitCount = 0;
  for (const recipe of bakery.recipes) {
    for (const index of recipe.cloudInit.keys()) {
      try {
        await renderCloudInitEntry(bakery, recipe, index);
        cloudInitCount += 1;
      } catch (error) {
        if (error instanceof RecipeError) errors.push(error);
        else throw error;
      }
    }
    // The launch test's user-data too: a template error shows here, offline, not after a bake.
    const userData = recipe.launchTest?.enabled ? recipe.launchTest.userData : [];
    let partsRender = true;
    for (const use of userData) {
      try {
        await renderUserDataPart(bakery, recipe, use);
        cloudInitCount += 1;
      } catch (error) {
        partsRender = false;
        if (error instanceof RecipeError) errors.push(error);
        else throw error;
      }
    }
    // Together (size, MIME), once each part renders.
    if (partsRender && userData.length > 0) {
      try {
        await renderUserData(bakery, recipe, userData);
      } catch (error) {
        if (error instanceof RecipeError) errors.push(error);
        else throw error;
      }
    }
  }
  if (errors.length) throw sortedErrors(errors);
  return { bakery, cloudInitCount };
}

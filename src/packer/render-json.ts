/** `bake render --json`: what was written, in the snake_case keys of every --json document (schema/render.schema.json). */
import type { RenderedRecipe } from './render.js';
import type { PackerShape } from './target.js';

export function renderJson(
  shape: PackerShape,
  packerVersion: string | undefined,
  rendered: readonly RenderedRecipe[],
): unknown {
  return {
    shape,
    packer_version: packerVersion ?? null,
    recipes: rendered.map((recipe) => ({
      recipe: recipe.recipe,
      dir: recipe.dir,
      template: recipe.template,
      playbook: recipe.playbook,
      verify_script: recipe.verifyScript,
      ansible_command: recipe.ansibleCommand,
      cloud_init: recipe.cloudInit,
      manifest: recipe.manifest,
      shape: recipe.shape,
      source_ami: recipe.sourceAmi,
      gaps: recipe.gaps.map((gap) => ({ setting: gap.setting, detail: gap.detail })),
    })),
  };
}

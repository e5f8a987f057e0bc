/** Packer template rendering: what the build pipeline and `bake render` call. */
export { GENERATOR_VERSION } from './generator-version.js';
export type { PackerShape, PackerTarget } from './target.js';
export { detectPackerShape, shapeOfVersion } from './shape.js';
export {
  renderRecipe,
  type RenderOptions,
  type RenderedRecipe,
  type CloudInitRenderer,
  type RenderedCloudInitFile,
} from './render.js';
export { renderPackerTemplate, type PackerTemplate, type ShapeGap } from './template.js';
export { writePackerVariables, variableDefaults, PLACEHOLDER_AMI, type PackerVariables } from './variables.js';
export { hclList, hclMap } from './hcl.js';

/**
 * bake's architecture, checked on every `npm run lint` (and so every `npm test`).
 * docs/architecture.md explains the layers; this file is what keeps them.
 *
 * Each folder under src/ is one concern and sits in one layer. A module may import from its own
 * layer and from any layer below it, never from one above: commands call orchestration,
 * orchestration calls the domain, the domain calls the edges, and the edges know nothing of bake's
 * recipes or stages. No import cycles at all, and nothing under src/ imports tests or dev tools.
 */

/** Top to bottom. */
const layers = [
  {
    name: 'entry',
    what: 'commands and tools: parse flags, call one core function, print',
    folders: ['cli', 'bench'],
  },
  {
    name: 'orchestration',
    what: 'the stages and views over them: validate, plan, build, pin, prune wiring; images; reports',
    folders: ['pipeline', 'images', 'report'],
  },
  {
    name: 'domain',
    what: 'one concern each, pure where it can be: the bakery model, fingerprints, generators, after-bake steps',
    folders: [
      'recipes',
      'roles',
      'secrets',
      'boot',
      'graph',
      'fingerprint',
      'cloud-init',
      'packer',
      'launch-test',
      'lifecycle',
      'verify',
      'tfvars',
      'sbom',
      'ci',
      'scan',
      'scaffold',
    ],
  },
  {
    name: 'edges',
    what: 'the world behind small interfaces: EC2/SSM, the local cloud, git, files, terminal output',
    folders: ['aws', 'local-cloud', 'git', 'files', 'io', 'release'],
  },
  {
    name: 'foundation',
    what: 'vocabulary every layer shares: typed errors, the tag contract, escaping for HCL and shell',
    folders: ['errors', 'tags', 'escape'],
  },
];

const folderPattern = (folders) => `^src/(${folders.join('|')})/`;
const allFolders = layers.flatMap((layer) => layer.folders);

/**
 * The recipe model (src/recipes/model.ts) is the vocabulary of the whole bakery: any layer may
 * name its types (an EC2 base-image lookup takes a recipe's BaseImage), but only layers above
 * the domain may call into recipes/.
 */
const recipeModelCode = { path: '^src/recipes/model\\.ts$', dependencyTypesNot: ['type-only'] };

const upwardImportRules = layers.slice(1).map((layer, index) => {
  const above = layers.slice(0, index + 1);
  return {
    name: `no-upward-import-from-${layer.name}`,
    comment: `${layer.name} (${layer.what}) may not import ${above.map((a) => a.name).join(' or ')}`,
    severity: 'error',
    from: { path: folderPattern(layer.folders) },
    to: { path: folderPattern(above.flatMap((a) => a.folders)), pathNot: '^src/recipes/model\\.ts$' },
  };
});

const edgeLayers = layers.slice(layers.findIndex((layer) => layer.name === 'edges'));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle ties modules that should change apart; break it by moving what both need down a layer',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upwardImportRules,
    {
      name: 'recipe-model-types-only-below-domain',
      comment: 'below the domain, the recipe model is used for its types only',
      severity: 'error',
      from: { path: folderPattern(edgeLayers.flatMap((layer) => layer.folders)) },
      to: recipeModelCode,
    },
    {
      name: 'every-folder-in-a-layer',
      comment: `a new folder under src/ goes into one of the layers in .dependency-cruiser.cjs`,
      severity: 'error',
      from: { path: '^src/', pathNot: folderPattern(allFolders) },
      to: {},
    },
    {
      name: 'no-src-importing-tests',
      comment: 'src/ ships; test/ does not',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-dev-dependencies-in-src',
      comment: 'src/ runs where only dependencies are installed',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-undeclared-packages',
      comment: 'every package src/ imports is declared in package.json',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-missing-modules',
      comment: 'an import that resolves to nothing',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

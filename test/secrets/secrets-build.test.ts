/**
 * Build-time secrets through bake's build path, over the local cloud's HTTP API (SSM SecureString)
 * with the stand-in Packer, which echoes the secrets file it was handed (as a careless role would
 * print a secret): the values reach the run, and are masked everywhere bake writes or prints.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSecureParameter } from '../../src/aws/secure-parameter.js';
import { RecipeErrors } from '../../src/errors/index.js';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { readManifest } from '../../src/packer/manifest.js';
import { renderRecipe } from '../../src/packer/render.js';
import { runPackerBuild } from '../../src/packer/runner.js';
import { writePackerVariables } from '../../src/packer/variables.js';
import { buildBakery, type BuildDeps } from '../../src/pipeline/build.js';
import { appendBuildLog } from '../../src/pipeline/build-log.js';
import { writeJunit } from '../../src/pipeline/junit.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { forgetSecrets } from '../../src/io/secret-mask.js';
import { resolveSecrets } from '../../src/secrets/resolve.js';
import { packerValidate } from '../packer/packer-cli.js';
import { tempBakery } from '../recipes/temp-bakery.js';

const fakePacker = path.resolve('test/fixtures/pipeline/fake-packer.mjs');
const ENV_CANARY = 'canary-env-7Qp2-{{ not a template }}';
const SSM_CANARY = 'canary-ssm-9Xz4\nsecond line of a key';

let cloud: LocalCloud;
let root: string;
let ssm: SSMClient;

const RECIPE = `name: vault
base: { ami: ${baseImageId('us-east-1')} }
regions: [us-east-1]
encrypted: false
roles: [common]
secrets:
  repo_token: { env: CANARY_TOKEN }
  db_password: { ssm: /bakery/db_password }
`;

beforeAll(async () => {
  root = await tempBakery({
    'recipes/vault.yaml': RECIPE,
    'roles/common/tasks/main.yml': '- ansible.builtin.debug: { msg: hi }\n',
  });
  cloud = await startLocalCloud({ stateDir: path.join(root, '.bake', 'local'), host: noInstances });
  process.env.AWS_ACCESS_KEY_ID = cloud.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = cloud.env.AWS_SECRET_ACCESS_KEY;
  ssm = new SSMClient({ region: 'us-east-1', endpoint: cloud.endpoint });
  await ssm.send(new PutParameterCommand({ Name: '/bakery/db_password', Value: SSM_CANARY, Type: 'SecureString' }));
});

afterAll(async () => {
  ssm?.destroy();
  await cloud?.close();
  forgetSecrets();
});

function deps(extra: Partial<BuildDeps> = {}): BuildDeps {
  const aws = { endpoint: cloud.endpoint };
  return {
    render: async (recipe, outDir) =>
      renderRecipe(await loadBakery(root), recipe, outDir, {
        shape: 'legacy',
        target: { ec2Endpoint: cloud.endpoint },
      }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: fakePacker }),
    readManifest: (file) => readManifest(file),
    appendLog: appendBuildLog,
    tagImage: async () => undefined,
    pin: async () => [],
    gitCommit: async () => 'feedc0de',
    now: () => new Date(),
    resolveSecrets: (recipes) =>
      resolveSecrets(recipes, {
        env: { CANARY_TOKEN: ENV_CANARY },
        readParameter: (region, name) => readSecureParameter(aws, region, name),
      }),
    ...extra,
  };
}

const planned = (recipe: Awaited<ReturnType<typeof loadBakery>>['recipes'][number]) => ({
  name: recipe.name,
  recipe,
  action: 'build' as const,
  reasons: ['never built'],
  fingerprint: 'vault0123456789ab',
  amis: {},
  baseAmi: baseImageId('us-east-1'),
});

describe('SecureString parameters in the local cloud', () => {
  it('returns the value only WithDecryption, and never stores it in the clear', async () => {
    const sealed = await ssm.send(new GetParameterCommand({ Name: '/bakery/db_password' }));
    expect(sealed.Parameter).toMatchObject({ Type: 'SecureString', Version: 1 });
    expect(sealed.Parameter!.Value).not.toContain('canary');
    expect(await readSecureParameter({ endpoint: cloud.endpoint }, 'us-east-1', '/bakery/db_password')).toBe(
      SSM_CANARY,
    );
    expect(await readSecureParameter({ endpoint: cloud.endpoint }, 'eu-west-1', '/bakery/db_password')).toBeUndefined();
    await expect(
      ssm.send(new PutParameterCommand({ Name: '/bakery/db_password', Value: 'other-value', Type: 'SecureString' })),
    ).rejects.toThrow(/already exists/);
    const grep = await execa('grep', ['-rlF', 'canary-ssm', path.join(root, '.bake', 'local')], { reject: false });
    expect(grep.stdout).toBe('');
  });
});

describe('bake build with secrets', () => {
  it('hands the values to the run in a private file that is gone afterwards, masked in the log, JSON and JUnit', async () => {
    const bakery = await loadBakery(root);
    const script = path.join(root, 'fake-packer.json');
    await writeFile(script, JSON.stringify({ vault: { regions: ['us-east-1'] } }));
    const journal = path.join(root, 'journal.ndjson');
    const report = await buildBakery(bakery, { recipes: [planned(bakery.recipes[0])] }, deps(), {
      runId: 'secrets-run',
      packerEnv: { ...cloud.env, FAKE_PACKER_SCRIPT: script, FAKE_PACKER_JOURNAL: journal },
    });
    expect(report.recipes[0].status, JSON.stringify(report.recipes[0])).toBe('built');

    const log = await readFile(report.recipes[0].log!, 'utf8');
    // The stand-in echoed the file: both values were in it, and both were masked on the way in.
    expect(log).toContain('secrets: repo_token: !unsafe "********"');
    expect(log).toContain('secrets: db_password: !unsafe "********');
    const start = JSON.parse((await readFile(journal, 'utf8')).split('\n')[0]) as { vars: { secrets_file: string } };
    expect(start.vars.secrets_file).toMatch(/^\/dev\/shm\/bake-\d+\/secrets\.\d+\.\d+\.\w+\/vars\.yml$/);
    expect(existsSync(path.dirname(start.vars.secrets_file))).toBe(false);

    await writeJunit(path.join(root, 'junit.xml'), report, new Date().toISOString());
    await writeFile(path.join(root, 'report.json'), JSON.stringify(report));
    for (const canary of ['canary-env-7Qp2', 'canary-ssm-9Xz4', 'second line of a key']) {
      const grep = await execa('grep', ['-rlF', canary, root], { reject: false });
      expect(grep.stdout, canary).toBe('');
    }
    expect(
      readdirSync(`/dev/shm/bake-${process.getuid!()}`).filter((entry) => entry.startsWith(`secrets.${process.pid}.`)),
    ).toEqual([]);
  });

  it('fails before Packer starts when a secret cannot be read, naming the recipe line', async () => {
    const bakery = await loadBakery(root);
    const journal = path.join(root, 'journal-missing.ndjson');
    const attempt = buildBakery(
      bakery,
      { recipes: [planned(bakery.recipes[0])] },
      deps({
        resolveSecrets: (recipes) => resolveSecrets(recipes, { env: {}, readParameter: async () => undefined }),
      }),
      { runId: 'missing-run', packerEnv: { ...cloud.env, FAKE_PACKER_JOURNAL: journal } },
    );
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecipeErrors);
    const lines = (error as RecipeErrors).errors.map((e) => e.toLine().replace(`${root}/`, ''));
    expect(lines).toEqual([
      'recipes/vault.yaml:7:3: secret repo_token: environment variable CANARY_TOKEN is not set',
      'recipes/vault.yaml:8:3: secret db_password: SSM parameter /bakery/db_password in us-east-1 is not set',
    ]);
    expect(existsSync(journal)).toBe(false);
  });

  it('renders a template Packer accepts, in which only the file path is passed to Ansible', async () => {
    const bakery = await loadBakery(root);
    const rendered = await renderRecipe(bakery, bakery.recipes[0], path.join(root, 'render'), { shape: 'legacy' });
    const text = await readFile(rendered.template, 'utf8');
    expect(text).toContain('"@${var.secrets_file}"');
    expect(text).toContain('ANSIBLE_PIPELINING=True');
    const varFile = path.join(root, 'render', 'vars.pkrvars.hcl');
    await writePackerVariables(varFile, {
      source_ami: 'ami-0123456789abcdef0',
      fingerprint: 'f',
      git_commit: '',
      built_at: '',
      build_url: '',
      base_ami: '',
      parent_ami: '',
      secrets_file: '/dev/shm/x/vars.yml',
    });
    const { exitCode, output } = await packerValidate(rendered.template, varFile);
    expect(output).not.toMatch(/Error/);
    expect(exitCode).toBe(0);
    const modern = await renderRecipe(bakery, bakery.recipes[0], path.join(root, 'render-modern'), { shape: 'modern' });
    expect(await readFile(modern.template, 'utf8')).toContain('"@${var.secrets_file}"');
  });
});

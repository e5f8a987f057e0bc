import { describe, expect, it } from 'vitest';
import { imageTags } from '../../src/pipeline/build-tags.js';

const input = {
  recipe: 'web',
  userTags: { team: 'frontend', 'bake:recipe': 'evil', 'aws:cloudformation:stack-name': 'x' },
  fingerprint: 'abcdef0123456789',
  gitCommit: 'deadbeef',
  baseAmi: 'ami-base',
  builtAt: '2026-11-22T19:00:01.234Z',
};

describe('image tags', () => {
  it('carries every contract tag and the recipe’s own tags', () => {
    expect(
      imageTags({
        ...input,
        parentAmi: 'ami-parent',
        buildUrl: 'https://ci/job/1/',
        jobName: 'images/main',
        inputs: 'roles=nginx',
      }),
    ).toEqual({
      team: 'frontend',
      Name: 'web-abcdef012345-20261122190001',
      'bake:recipe': 'web',
      'bake:arch': 'x86_64',
      'bake:fingerprint': 'abcdef0123456789',
      'bake:git-commit': 'deadbeef',
      'bake:base-ami': 'ami-base',
      'bake:parent': 'ami-parent',
      'bake:built-at': '2026-11-22T19:00:01.234Z',
      'bake:build-url': 'https://ci/job/1/',
      'bake:job': 'images/main',
      'bake:inputs': 'roles=nginx',
    });
  });

  it('leaves off bake:parent and bake:build-url when there is none, rather than writing empty values', () => {
    const tags = imageTags(input);
    expect(tags).not.toHaveProperty('bake:parent');
    expect(tags).not.toHaveProperty('bake:build-url');
    expect(tags).not.toHaveProperty('bake:job');
    expect(tags).not.toHaveProperty('bake:inputs');
  });

  it('cuts values to EC2’s 256 characters', () => {
    const tags = imageTags({ ...input, inputs: { roles: 'r'.repeat(400) } });
    expect([...tags['bake:inputs']]).toHaveLength(256);
    expect(tags['bake:inputs'].endsWith('…')).toBe(true);
  });
});

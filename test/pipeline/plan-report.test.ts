import { describe, expect, it } from 'vitest';
import { planExitCode, planJson, planLines } from '../../src/pipeline/plan-report.js';
import type { Plan, RecipePlan } from '../../src/pipeline/plan.js';
import { recipeOf } from './bakery.js';

const base = recipeOf(
  '/b',
  'base',
  { kind: 'ami', ami: 'ami-0123456789abcdef0' },
  { regions: ['us-east-1', 'eu-west-1'] },
);
const web = recipeOf('/b', 'web', { kind: 'recipe', recipe: 'base' });

const reuse: RecipePlan = {
  name: 'base',
  recipe: base,
  action: 'reuse',
  reasons: [],
  fingerprint: '0123456789abcdef',
  inputs: 'recipe=…',
  baseAmi: 'ami-0123456789abcdef0',
  amis: { 'us-east-1': 'ami-0aaaaaaaaaaaaaaaa', 'eu-west-1': 'ami-0bbbbbbbbbbbbbbbb' },
  missingRegions: [],
  unsettledRegions: [],
};
const build: RecipePlan = {
  name: 'web',
  recipe: web,
  action: 'build',
  reasons: ['role nginx: templates/site.conf.j2 changed', 'role common: tasks/main.yml added'],
  fingerprint: 'fedcba9876543210',
  inputs: 'recipe=…',
  baseAmi: 'ami-0aaaaaaaaaaaaaaaa',
  parent: 'base',
  amis: {},
  missingRegions: ['us-east-1'],
  unsettledRegions: [],
};

describe('the printed plan', () => {
  it('names the reused images per region and indents the reasons of each build', () => {
    expect(planLines({ recipes: [reuse, build] })).toEqual([
      'base: reuse ami-0aaaaaaaaaaaaaaaa (us-east-1), ami-0bbbbbbbbbbbbbbbb (eu-west-1)',
      'web: build',
      '  role nginx: templates/site.conf.j2 changed',
      '  role common: tasks/main.yml added',
      '1 to build, 1 to reuse',
    ]);
  });

  it('is JSON with the contract fields and without the parsed recipe', () => {
    const json = planJson({ recipes: [build] }) as { recipes: Array<Record<string, unknown>> };
    expect(Object.keys(json.recipes[0])).toEqual([
      'name',
      'arch',
      'action',
      'reasons',
      'fingerprint',
      'amis',
      'inputs',
      'base_ami',
      'parent',
      'build_region',
      'missing_regions',
      'level',
    ]);
  });

  it('gives each recipe to build its wave: a child after a parent built in the same plan, at once over a reused one', () => {
    const parentBuilt: RecipePlan = { ...reuse, action: 'build', reasons: ['no previous image'], amis: {} };
    const levels = (plan: Plan) =>
      (planJson(plan) as { recipes: Array<{ name: string; level?: number }> }).recipes.map((r) => [r.name, r.level]);
    expect(levels({ recipes: [parentBuilt, build] })).toEqual([
      ['base', 0],
      ['web', 1],
    ]);
    expect(levels({ recipes: [reuse, build] })).toEqual([
      ['base', undefined],
      ['web', 0],
    ]);
  });

  it('exits 2 with --detailed-exitcode only when something would be built', () => {
    const all: Plan = { recipes: [reuse, build] };
    expect(planExitCode(all, true)).toBe(2);
    expect(planExitCode(all, false)).toBe(0);
    expect(planExitCode({ recipes: [reuse] }, true)).toBe(0);
  });
});

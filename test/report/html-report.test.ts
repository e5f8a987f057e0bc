/**
 * The HTML report, rendered by a real headless browser (Debian's chromium): it renders, the
 * graph has one node per recipe, nothing is fetched from elsewhere, hostile text stays text.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildReport } from '../../src/pipeline/build-report.js';
import type { Plan, RecipePlan } from '../../src/pipeline/plan.js';
import { renderHtmlReport } from '../../src/report/html-report.js';
import { buildReportModel, planReportModel } from '../../src/report/report-data.js';
import { recipe } from '../packer/recipe-factory.js';
import { inChromium, nodesIn } from './chromium.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-report-'));
});

const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" & </svg>';

function planned(name: string, action: 'build' | 'reuse', parent?: string, reasons: string[] = []): RecipePlan {
  return {
    name,
    recipe: recipe({ name }),
    action,
    reasons,
    fingerprint: `${name}0000000000000`.slice(0, 16),
    inputs: '',
    amis: action === 'reuse' ? { 'us-east-1': 'ami-0123456789abcdef0' } : {},
    baseAmi: '',
    ...(parent && { parent }),
    missingRegions: action === 'build' ? ['us-east-1'] : [],
    unsettledRegions: [],
  };
}

const plan: Plan = {
  recipes: [
    planned('base', 'build', undefined, ['roles/common/tasks/main.yml changed', HOSTILE]),
    planned('web', 'build', 'base', ['parent base is rebuilt']),
    planned('worker', 'reuse', 'base'),
  ],
};

describe('the HTML report in a headless browser', () => {
  it('a plan report renders with one graph node per recipe, coloured by action, and its reasons as text', async () => {
    const file = path.join(work, 'plan.html');
    await writeFile(file, renderHtmlReport(planReportModel(plan, new Date('2026-11-30T05:00:00Z'))));
    const { dom, screenshot } = await inChromium(file);
    expect(nodesIn(dom)).toEqual(['base:build', 'web:build', 'worker:reuse']);
    // One arrow per FROM edge, drawn as SVG paths.
    expect(dom.match(/<path class="edge"/g)).toHaveLength(2);
    expect(dom).toContain('roles/common/tasks/main.yml changed');
    // The hostile reason is text in the page, never an element.
    expect(dom).not.toMatch(/<script|<img/i);
    expect(dom).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(dom).toContain('waves: 0: base · 1: web');
    expect(screenshot).toBeGreaterThan(10_000);
  });

  it('a build report shows the timeline, launch tests, the tfvars and SSM pin changes and package changes', async () => {
    const report: BuildReport = {
      run_id: '20261130-050000-ab12',
      interrupted: false,
      recipes: [
        {
          name: 'base',
          status: 'built',
          amis: { 'us-east-1': 'ami-0aaaaaaaaaaaaaaa1' },
          fingerprint: 'f1',
          duration_s: 600,
          started_at: '2026-11-30T05:00:00.000Z',
          reasons: ['no previous image'],
          launch_test: {
            status: 'passed',
            image: 'ami-0aaaaaaaaaaaaaaa1',
            region: 'us-east-1',
            instance_type: 't3.micro',
            user_data: ['app-user-data.yaml.hbs'],
            cloud_init: { status: 'done', output: 'status: done' },
            checks: [
              {
                check: 'file /run/app-configured',
                kind: 'file',
                status: 'passed',
                output: '',
                duration_s: 1,
                location: 'recipes/base.yaml:12:7',
              },
            ],
            duration_s: 13,
            cleanup_problems: [],
          },
        },
        {
          name: 'web',
          status: 'built',
          amis: { 'us-east-1': 'ami-0bbbbbbbbbbbbbbb2' },
          fingerprint: 'f2',
          duration_s: 300,
          started_at: '2026-11-30T05:10:00.000Z',
          reasons: ['parent base is rebuilt'],
        },
        {
          name: 'worker',
          status: 'reused',
          amis: { 'us-east-1': 'ami-0123456789abcdef0' },
          fingerprint: 'f3',
          duration_s: 0,
          reasons: [],
        },
      ],
      pin: {
        status: 'pinned',
        files: [
          {
            file: path.join(work, 'infra/web.auto.tfvars'),
            changed: true,
            edits: [],
            diff: '--- infra/web.auto.tfvars\n+++ infra/web.auto.tfvars\n@@ -1,3 +1,3 @@\n web_ami = {\n-  us-east-1 = "ami-0old"\n+  us-east-1 = "ami-0bbbbbbbbbbbbbbb2"\n }\n',
          },
        ],
        parameters: [
          {
            recipe: 'web',
            region: 'us-east-1',
            parameter: '/images/web/ami',
            before: 'ami-0old',
            ami: 'ami-0bbbbbbbbbbbbbbb2',
            changed: true,
          },
        ],
      },
    };
    const diffs = [
      {
        recipe: 'web',
        against: 'ami-0old',
        added: [{ name: 'jq', arch: 'amd64', after: '1.6-2.1' }],
        removed: [],
        changed: [{ name: 'nginx-light', arch: 'amd64', before: '1.22.1-9', after: '1.22.1-9+deb12u1' }],
      },
    ];
    const file = path.join(work, 'build.html');
    await writeFile(file, renderHtmlReport(buildReportModel(plan, report, new Date(), diffs, work)));
    const { dom } = await inChromium(file);
    expect(nodesIn(dom)).toEqual(['base:built', 'web:built', 'worker:reused']);
    expect([...dom.matchAll(/<div class="lane" data-recipe="(\w+)">/g)].map((m) => m[1])).toEqual(['base', 'web']);
    expect(dom).toContain('wave 1 · 5m 00s');
    expect(dom).toContain('15m 00s from the first bake');
    expect(dom).toMatch(/<td>base<\/td><td>passed<\/td><td><div>file \/run\/app-configured: passed<\/div>/);
    expect(dom).toContain('<span class="add">+  us-east-1 = "ami-0bbbbbbbbbbbbbbb2"</span>');
    expect(dom).toMatch(/<td>us-east-1<\/td><td><code>\/images\/web\/ami<\/code><\/td><td><code>ami-0old<\/code>/);
    expect(dom).toMatch(/<td>nginx-light<\/td><td>amd64<\/td><td>1\.22\.1-9<\/td><td>1\.22\.1-9\+deb12u1<\/td>/);
  });

  it('is self-contained: no script, and nothing loaded from a URL (Jenkins CSP, offline agents)', async () => {
    const html = renderHtmlReport(planReportModel(plan, new Date()));
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|@font-face/i);
    expect(html).not.toMatch(/<[^>]*\s(src|href)=/i);
    // The only url() is the SVG's own arrow marker.
    expect([...html.matchAll(/url\(([^)]*)\)/g)].map((m) => m[1])).toEqual(['#arrow', '#arrow']);
    expect(await readFile(path.join(work, 'plan.html'), 'utf8')).toContain('<svg');
  });
});

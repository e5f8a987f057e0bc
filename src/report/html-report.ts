/**
 * The HTML report for Jenkins' HTML publisher: one self-contained file (inline style and SVG, no
 * script, no external style, font or image), because Jenkins serves published reports under a
 * content security policy that blocks scripts and agents may be offline. Handlebars escapes
 * every value; only the SVG, built with escaped text in recipe-graph-svg.ts, is inserted raw.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { packageFile } from '../release/installed-package.js';
import type { InventoryImage } from '../images/inventory.js';
import { imageStatus, securityCell } from '../images/inventory-lines.js';
import { ACTION_COLOURS, recipeGraphSvg } from './recipe-graph-svg.js';
import type { ReportModel } from './report-model.js';

const engine = Handlebars.create();
let compiled: HandlebarsTemplateDelegate | undefined;

function template(): HandlebarsTemplateDelegate {
  compiled ??= engine.compile(readFileSync(packageFile('templates', 'report/report.html.hbs'), 'utf8'), {
    strict: false,
  });
  return compiled;
}

function seconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m ${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

function timeline(model: ReportModel) {
  const started = model.recipes.filter((r) => r.startedAt !== undefined && r.durationS !== undefined);
  if (started.length === 0) {
    const waves = model.recipes.filter((r) => r.wave !== undefined);
    return {
      lanes: [],
      note: waves.length
        ? `waves: ${[...new Set(waves.map((r) => r.wave))]
            .sort()
            .map(
              (w) =>
                `${w}: ${waves
                  .filter((r) => r.wave === w)
                  .map((r) => r.name)
                  .join(', ')}`,
            )
            .join(' · ')}`
        : 'nothing to bake',
    };
  }
  const start = Math.min(...started.map((r) => Date.parse(r.startedAt!)));
  const end = Math.max(...started.map((r) => Date.parse(r.startedAt!) + r.durationS! * 1000));
  const total = Math.max(end - start, 1);
  const lanes = started.map((r) => {
    const left = ((Date.parse(r.startedAt!) - start) / total) * 100;
    const width = ((r.durationS! * 1000) / total) * 100;
    return {
      name: r.name,
      wave: r.wave ?? 0,
      left: left.toFixed(2),
      width: width.toFixed(2),
      textLeft: Math.min(left + width + 0.5, 85).toFixed(2),
      duration: seconds(r.durationS!),
      colour: ACTION_COLOURS[r.action],
    };
  });
  return { lanes, note: `${seconds(total / 1000)} from the first bake's start to the last one's end` };
}

function diffLines(diff: string) {
  return diff
    .replace(/\n$/, '')
    .split('\n')
    .map((text) => ({
      text,
      class:
        text.startsWith('+') && !text.startsWith('+++')
          ? 'add'
          : text.startsWith('-') && !text.startsWith('---')
            ? 'del'
            : '',
    }));
}

const minute = (iso: string | undefined) => iso?.slice(0, 16).replace('T', ' ');

function revokedText(image: InventoryImage): string | undefined {
  const r = image.revoked;
  return r && `${minute(r.at) ?? r.at}${r.by ? ` by ${r.by}` : ''}${r.reason ? `: ${r.reason}` : ''}`;
}

/** Every image `bake images` lists, with its last scan's verdict as in its SECURITY column. */
function imageRows(images: NonNullable<ReportModel['images']>) {
  return images.inventory.recipes.flatMap((recipe) =>
    recipe.regions.flatMap((region) =>
      region.images.map((image) => ({
        recipe: recipe.name,
        region: region.region,
        imageId: image.imageId,
        status: imageStatus(image),
        security: securityCell(image),
        pending: image.scan?.pending ?? 0,
        pendingSince: minute(image.scan && image.scan.pending ? (image.scan.pendingSince ?? image.scan.at) : undefined),
        packages: image.scan?.pending ? image.scan.packages : '',
        pinnedBy: image.pinnedBy.join(', '),
        revoked: revokedText(image),
      })),
    ),
  );
}

/** Per recipe, region and configured environment: the image its targets pin, since when, promoted and revoked. */
function environmentRows(images: NonNullable<ReportModel['images']>) {
  if (images.environments.length === 0) return [];
  return images.inventory.recipes.flatMap((recipe) =>
    recipe.regions.flatMap((region) =>
      images.environments.flatMap((environment) => {
        const pinned = region.images.filter((i) => i.environments.some((e) => e.environment === environment));
        if (pinned.length === 0) return [{ recipe: recipe.name, region: region.region, environment }];
        return pinned.map((image) => {
          const promoted = image.promotions.find((p) => p.environment === environment);
          return {
            recipe: recipe.name,
            region: region.region,
            environment,
            imageId: image.imageId,
            status: imageStatus(image),
            since: minute(image.environments.find((e) => e.environment === environment)?.since),
            promoted:
              promoted &&
              `${minute(promoted.at) ?? promoted.at}${promoted.approvedBy ? ` (approved by ${promoted.approvedBy})` : ''}`,
            revoked: revokedText(image),
          };
        });
      }),
    ),
  );
}

export function renderHtmlReport(model: ReportModel): string {
  const counts = new Map<string, number>();
  for (const r of model.recipes) counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
  const { lanes, note } = timeline(model);
  return template()({
    kind: model.kind,
    title: model.title,
    generatedAt: model.generatedAt,
    summary: [...counts].map(([action, n]) => `${n} ${action}`).join(', ') || 'no recipe',
    graphSvg: recipeGraphSvg(model.recipes),
    legend: [...counts.keys()].map((action) => ({
      action,
      colour: ACTION_COLOURS[action as keyof typeof ACTION_COLOURS],
    })),
    recipes: model.recipes.map((r) => ({
      ...r,
      colour: ACTION_COLOURS[r.action],
      images: Object.entries(r.amis).map(([region, ami]) => ({ region, ami })),
    })),
    timeline: lanes,
    timelineNote: note,
    launchTests: model.recipes.filter((r) => r.launchTest).map((r) => ({ name: r.name, ...r.launchTest })),
    pins: model.pins && {
      ...model.pins,
      tfvars: model.pins.tfvars.filter((f) => f.diff).map((f) => ({ ...f, lines: diffLines(f.diff) })),
      ssm: model.pins.ssm.map((p) => ({ ...p, before: p.before ?? '(none)' })),
    },
    packageDiffs: model.packageDiffs,
    images: model.images && { rows: imageRows(model.images) },
    environments: model.images && environmentRows(model.images),
  });
}

import { describe, expect, it } from 'vitest';
import type { PlannedRecipe, RenderedForBuild } from '../../src/pipeline/build-run.js';
import { renderAhead } from '../../src/pipeline/render-ahead.js';

const entry = (name: string) => ({ name }) as PlannedRecipe;
const renderedOf = (name: string): RenderedForBuild => ({
  dir: `/work/${name}`,
  template: `/work/${name}/${name}.pkr.hcl`,
  manifest: `/work/${name}/manifest.json`,
});

describe('templates rendered ahead of their bakes', () => {
  it('renders every recipe at once in plan order, one at a time, so the first bake waits for no other render', async () => {
    const events: string[] = [];
    const rendered = renderAhead([entry('base'), entry('web'), entry('worker')], async ({ name }) => {
      events.push(`start ${name}`);
      await new Promise((resolve) => setImmediate(resolve));
      events.push(`end ${name}`);
      return renderedOf(name);
    });
    expect(await rendered.get('base')).toEqual(renderedOf('base'));
    expect(await rendered.get('worker')).toEqual(renderedOf('worker'));
    expect(events).toEqual(['start base', 'end base', 'start web', 'end web', 'start worker', 'end worker']);
  });

  it('keeps a render that fails to its own recipe: the others are rendered, and nothing is left unhandled', async () => {
    const rendered = renderAhead([entry('base'), entry('web'), entry('worker')], async ({ name }) => {
      if (name === 'web') throw new Error('web.pkr.hcl: bad template');
      return renderedOf(name);
    });
    await expect(rendered.get('web')).rejects.toThrow(/bad template/);
    expect(await rendered.get('worker')).toEqual(renderedOf('worker'));
  });
});

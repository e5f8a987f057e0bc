import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';

/** The DOM chromium builds from the file (after parsing and layout), and a screenshot of it. */
export async function inChromium(file: string): Promise<{ dom: string; screenshot: number }> {
  const shot = `${file}.png`;
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--hide-scrollbars',
    '--window-size=1200,900',
  ];
  const { stdout } = await execa('chromium', [...flags, '--dump-dom', pathToFileURL(file).href], { timeout: 120_000 });
  await execa('chromium', [...flags, `--screenshot=${shot}`, pathToFileURL(file).href], { timeout: 120_000 });
  return { dom: stdout, screenshot: (await stat(shot)).size };
}

export const nodesIn = (dom: string) =>
  [...dom.matchAll(/<g class="node" data-recipe="([^"]*)" data-action="([^"]*)">/g)].map((m) => `${m[1]}:${m[2]}`);

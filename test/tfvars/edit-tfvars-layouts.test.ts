/**
 * Many generated layouts (seeded, so a failure is reproducible): whatever the style of the file,
 * pinning yields exactly the intended values per the real parser, keeps every comment in order,
 * and pinning the same values again changes nothing.
 */
import { parse } from '@cdktf/hcl2json';
import { describe, expect, it } from 'vitest';
import { editTfvars, type PinEdit } from '../../src/tfvars/index.js';

function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return {
    chance: (p: number) => next() < p,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)],
  };
}

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'sa-east-1', 'eu-central-1'];
const ami = (n: number) => `ami-${n.toString(16).padStart(8, '0')}`;

interface Generated {
  text: string;
  comments: string[];
  edits: PinEdit[];
}

function generate(seed: number): Generated {
  const r = random(seed);
  const eol = r.chance(0.3) ? '\r\n' : '\n';
  const comments: string[] = [];
  let counter = 0;
  const comment = () => {
    const id = `c${seed}-${counter++}`;
    const text = r.pick([`# ${id}`, `// ${id}`, `/* ${id} */`]);
    comments.push(text);
    return text;
  };
  const lines: string[] = [];
  const filler = () => {
    const kind = r.int(6);
    if (kind === 0) lines.push(comment());
    else if (kind === 1) lines.push('');
    else if (kind === 2) lines.push(`name_${counter++} = "v # not // a /* comment"`);
    else if (kind === 3) lines.push(`list_${counter++} = [1, "}", { a = "{" }]`);
    else if (kind === 4) lines.push(`doc_${counter++} = <<-EOT`, '  web_ami = {', '  EOT');
    else lines.push(`nested_${counter++} = {`, '  inner = {', `    x = "y" ${comment()}`, '  }', '}');
  };

  for (let i = r.int(4); i > 0; i--) filler();
  const existing = REGIONS.filter(() => r.chance(0.5));
  const quoted = r.chance(0.3);
  const separator = r.chance(0.2) ? ':' : '=';
  const aligned = r.chance(0.5);
  const width = Math.max(0, ...existing.map((k) => k.length + (quoted ? 2 : 0)));
  const entry = (key: string, i: number) => {
    const k = quoted ? `"${key}"` : key;
    const pad = aligned ? ' '.repeat(width - k.length + 1) : r.pick([' ', '']);
    return `${k}${pad}${separator}${pad === '' ? '' : ' '}"${ami(i + 1)}"`;
  };
  if (r.chance(0.25)) {
    lines.push(
      `web_ami = {${existing.map((k, i) => ` ${entry(k, i)}`).join(',')}${existing.length ? ' ' : ''}}${r.chance(0.5) ? ` ${comment()}` : ''}`,
    );
  } else {
    lines.push(`web_ami = {${r.chance(0.5) ? ` ${comment()}` : ''}`);
    const comma = r.chance(0.3) ? ',' : '';
    existing.forEach((k, i) => {
      if (r.chance(0.2)) lines.push(`  ${comment()}`);
      lines.push(`  ${entry(k, i)}${comma}${r.chance(0.3) ? ` ${comment()}` : ''}`);
    });
    if (r.chance(0.2)) lines.push(`  ${comment()}`);
    lines.push('}');
  }
  if (r.chance(0.5)) lines.push(`base_ami = "${ami(99)}" ${comment()}`);
  for (let i = r.int(3); i > 0; i--) filler();
  lines.push('tail = "end"'); // HCL wants a newline after a closing heredoc marker
  let text = lines.join(eol) + (r.chance(0.8) ? eol : '');

  const edits: PinEdit[] = [];
  for (const key of REGIONS) if (r.chance(0.5)) edits.push({ variable: 'web_ami', key, value: ami(0x1000 + r.int(3)) });
  if (r.chance(0.5)) edits.push({ variable: 'base_ami', value: ami(0x2000) });
  if (r.chance(0.3)) edits.push({ variable: 'worker_ami', key: r.pick(REGIONS), value: ami(0x3000) });
  if (r.chance(0.1)) text = '';
  return { text, comments: text === '' ? [] : comments, edits };
}

function expectedValues(before: Record<string, unknown>, edits: PinEdit[]): Record<string, unknown> {
  const expected = structuredClone(before);
  for (const edit of edits) {
    if (edit.key === undefined) expected[edit.variable] = edit.value;
    else expected[edit.variable] = { ...((expected[edit.variable] as object) ?? {}), [edit.key]: edit.value };
  }
  return expected;
}

describe('pinning into generated layouts', () => {
  const seeds = Array.from({ length: 300 }, (_, i) => i + 1);
  it('writes exactly the intended values, keeps every comment in order, and is idempotent', async () => {
    for (const seed of seeds) {
      const { text, comments, edits } = generate(seed);
      const context = `seed ${seed}:\n${text}`;
      const before = (await parse('gen.tfvars', text)) as Record<string, unknown>;
      const result = await editTfvars('gen.tfvars', text, edits).catch((e: Error) => {
        throw new Error(`${context}\n${e.message}`);
      });
      const after = (await parse('gen.tfvars', result.text)) as Record<string, unknown>;
      expect(after, context).toEqual(expectedValues(before, edits));
      let from = 0;
      for (const c of comments) {
        const at = result.text.indexOf(c, from);
        expect(at, `${context}\nmissing ${c}`).toBeGreaterThanOrEqual(from);
        from = at + c.length;
      }
      if (text.includes('\r\n')) expect(result.text.replace(/\r\n/g, ''), context).not.toContain('\n');
      const again = await editTfvars('gen.tfvars', result.text, edits);
      expect(again, context).toEqual({ text: result.text, changed: false });
    }
  });
});

/** Facts about how a text file is laid out, so added lines look like their neighbours. */

/** `\r\n` when the file mostly uses it (kept for added lines too), else `\n`. */
export function detectEol(text: string): '\n' | '\r\n' {
  const crlf = text.match(/\r\n/g)?.length ?? 0;
  const lf = (text.match(/\n/g)?.length ?? 0) - crlf;
  return crlf > 0 && crlf >= lf ? '\r\n' : '\n';
}

/** The file's indentation step: a tab when its first indented line starts with one, else `fallback`. */
export function detectIndentUnit(text: string, fallback: string): string {
  const match = /^([ \t]+)\S/m.exec(text);
  if (!match) return fallback;
  return match[1].startsWith('\t') ? '\t' : match[1].length <= 8 ? match[1] : fallback;
}

export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** The whitespace that starts the line holding `offset`. */
export function indentOf(text: string, offset: number): string {
  const start = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(start, offset))![0];
}

/** True when only spaces/tabs stand between the start of the line and `offset`. */
export function startsLine(text: string, offset: number): boolean {
  return /^[ \t]*$/.test(text.slice(lineStart(text, offset), offset));
}

export interface Splice {
  start: number;
  end: number;
  text: string;
}

/** Applies non-overlapping splices given in any order. */
export function applySplices(text: string, splices: Splice[]): string {
  const sorted = [...splices].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  for (const splice of sorted) out = out.slice(0, splice.start) + splice.text + out.slice(splice.end);
  return out;
}

/**
 * Appends blocks after the existing text: after a newline (added when missing) and a blank
 * line, one blank line between blocks. A file that ended without a newline still does.
 */
export function appendBlocks(text: string, blocks: string[], eol: string): string {
  if (blocks.length === 0) return text;
  const body = blocks.join(eol + eol);
  if (text.trim() === '' && !text.includes('\n')) return text + body + eol;
  const endsWithNewline = text.endsWith('\n');
  let out = endsWithNewline ? text : text + eol;
  const lines = out.split('\n');
  const lastLine = lines[lines.length - 2] ?? '';
  if (lastLine.trim() !== '') out += eol;
  out += body;
  return endsWithNewline ? out + eol : out;
}

/** 1-based line of an offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { RecipeError, type SourceLocation } from '../errors/index.js';

/** A parsed YAML file that can tell where any of its values was written. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  value: unknown;
  /** Position of the node at `path` (keys and indexes); falls back to the nearest parent. */
  locate(path: (string | number)[], keyPosition?: boolean): SourceLocation;
}

export async function readYamlSource(file: string): Promise<YamlSource> {
  const text = await readFile(file, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new RecipeError(first.message.split('\n')[0].replace(/ at line \d+, column \d+.*$/, ''), at(first.pos[0]));
  }
  const locate = (path: (string | number)[], keyPosition = false): SourceLocation => {
    let node: unknown = doc.contents;
    let best: SourceLocation = at(0);
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === segment);
        if (!pair) break;
        const key = pair.key as Node;
        if (key.range) best = at(key.range[0]);
        node = pair.value;
        if (keyPosition && segment === path[path.length - 1]) return best;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
      } else break;
      const range = (node as Node | null)?.range;
      if (range) best = at(range[0]);
    }
    return best;
  };
  return { file, doc, value: doc.toJS(), locate };
}

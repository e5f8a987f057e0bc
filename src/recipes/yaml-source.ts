import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { RecipeError, type SourceLocation } from '../errors/index.js';
import { MAX_RECIPE_BYTES, readInputFile, UnreadableInputError } from '../files/read-input-file.js';

/** A parsed YAML file that can tell where any of its values was written. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  value: unknown;
  /** Position of the node at `path` (keys and indexes); falls back to the nearest parent. */
  locate(path: (string | number)[], keyPosition?: boolean): SourceLocation;
}

/** Reads and parses a YAML file; anything that is not a readable YAML file is a RecipeError. */
export async function readYamlSource(file: string, maxBytes = MAX_RECIPE_BYTES): Promise<YamlSource> {
  let text: string;
  try {
    text = (await readInputFile(file, maxBytes)).toString('utf8');
  } catch (error) {
    if (error instanceof UnreadableInputError) throw new RecipeError(error.reason, { file, line: 1, col: 1 });
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new RecipeError('does not exist', { file, line: 1, col: 1 });
    throw error;
  }
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
  return { file, doc, value: toJS(doc, at), locate };
}

/**
 * The document's value. The yaml package refuses to expand aliases past a limit ("billion
 * laughs": a few lines that expand to gigabytes); that refusal is the user's error, at an alias.
 */
function toJS(doc: Document.Parsed, at: (offset: number) => SourceLocation): unknown {
  try {
    return doc.toJS();
  } catch (error) {
    if (!(error instanceof ReferenceError) || !/alias/i.test(error.message)) throw error;
    let where = at(0);
    visit(doc, {
      Alias(_key, node) {
        if (isAlias(node) && node.range) where = at(node.range[0]);
        return visit.BREAK;
      },
    });
    throw new RecipeError('too many YAML alias expansions (a document that expands aliases this much is refused)', where);
  }
}

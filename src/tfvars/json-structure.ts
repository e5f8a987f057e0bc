/**
 * JSON with spans: where each value and object member sits in the text. JSON.parse has already
 * accepted the text when this runs, so this reader only needs to be right, not forgiving.
 */
export type JsonNode =
  | { kind: 'object'; start: number; end: number; members: JsonMember[] }
  | { kind: 'array'; start: number; end: number }
  | { kind: 'string'; start: number; end: number; value: string }
  | { kind: 'scalar'; start: number; end: number };

export interface JsonMember {
  key: string;
  keyStart: number;
  keyEnd: number;
  value: JsonNode;
}

export function readJson(text: string): JsonNode {
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && ' \t\r\n\uFEFF'.includes(text[i])) i++;
  };
  const readString = (): { start: number; end: number; value: string } => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return { start, end: i, value: JSON.parse(text.slice(start, i)) as string };
  };
  const readValue = (): JsonNode => {
    skipSpace();
    const start = i;
    const c = text[i];
    if (c === '"') return { kind: 'string', ...readString() };
    if (c === '{') {
      i++;
      const members: JsonMember[] = [];
      skipSpace();
      while (text[i] !== '}') {
        const key = readString();
        skipSpace();
        i++; // ':'
        const value = readValue();
        members.push({ key: key.value, keyStart: key.start, keyEnd: key.end, value });
        skipSpace();
        if (text[i] === ',') i++;
        skipSpace();
      }
      i++;
      return { kind: 'object', start, end: i, members };
    }
    if (c === '[') {
      i++;
      skipSpace();
      while (text[i] !== ']') {
        readValue();
        skipSpace();
        if (text[i] === ',') i++;
        skipSpace();
      }
      i++;
      return { kind: 'array', start, end: i };
    }
    while (i < text.length && /[-+.0-9eEa-z]/.test(text[i])) i++;
    return { kind: 'scalar', start, end: i };
  };
  return readValue();
}

/**
 * The one masking point: every secret value bake has resolved in this process is registered
 * here, and every line that leaves bake (what it prints, the Packer and Ansible output it logs,
 * and everything derived from that output: JSON, JUnit, reports) passes through maskSecrets.
 * Child-process output is masked line by line as it enters bake, so nothing downstream ever
 * holds an unmasked copy.
 */
export const SECRET_MASK = '********';

/** Shorter fragments would mask ordinary words; a secret that short is refused when resolved. */
export const MIN_SECRET_LENGTH = 4;

const known = new Set<string>();
let pattern: RegExp | undefined;

/**
 * How a string can be spelled in what Ansible and Python print: JSON (Ansible's results; Python's
 * json escapes every non-ASCII character as \uXXXX, JavaScript's keeps it) and Python's repr
 * (a variable holding a list or dict is templated into text as repr: `["odd'canary\\9d"]`), with
 * the quote character escaped or not, since which quote repr picks depends on the whole text the
 * value sits in. Each gives the text between the quotes.
 */
const SPELLINGS: ReadonlyArray<(text: string) => string> = [
  (text) => JSON.stringify(text).slice(1, -1),
  (text) => jsonAscii(text),
  (text) => pythonRepr(text, false),
  (text) => pythonRepr(text, true),
];

/** Python's json.dumps with ensure_ascii (its default): everything outside space..~ as \\uXXXX. */
function jsonAscii(text: string): string {
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/[^\x00-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Python 3's str.__repr__ without its quotes: `escapeSingleQuote` when repr chose ' as its quote. */
function pythonRepr(text: string, escapeSingleQuote: boolean): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'" && escapeSingleQuote) out += "\\'";
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || (ch !== ' ' && !/[\p{C}\p{Z}]/u.test(ch))) out += ch;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out;
}

const hex = (code: number, width: number) => code.toString(16).padStart(width, '0');

/**
 * Remembers a secret value, with the other spellings it can take in output: each spelling above,
 * and each of those once more (a repr inside JSON, JSON inside a repr or inside JSON: Ansible's
 * result JSON holding a templated list), and, for multi-line values (a PEM key), each line on its
 * own, since output is masked a line at a time.
 */
export function registerSecret(value: string): void {
  const lines = value
    // Python's splitlines() (Ansible's stdout_lines) breaks at more than \n.
    .split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/)
    .map((line) => line.trim())
    .filter((line) => line.length >= MIN_SECRET_LENGTH);
  const forms = new Set<string>();
  for (const base of new Set([value, ...lines])) {
    forms.add(base);
    for (const once of SPELLINGS.map((spell) => spell(base))) {
      forms.add(once);
      for (const spell of SPELLINGS) forms.add(spell(once));
    }
  }
  for (const form of forms) if (form.length >= MIN_SECRET_LENGTH) known.add(form);
  // Longest first, so a value is masked whole rather than around a shorter form inside it.
  const escaped = [...known]
    .sort((a, b) => b.length - a.length)
    .map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  pattern = new RegExp(escaped.join('|'), 'g');
}

export function maskSecrets(text: string): string {
  return pattern ? text.replace(pattern, SECRET_MASK) : text;
}

/** For tests: forget every registered value. */
export function forgetSecrets(): void {
  known.clear();
  pattern = undefined;
}

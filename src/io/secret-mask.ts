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
 * Remembers a secret value, with the other spellings it can take in output: JSON-escaped (Ansible
 * prints results as JSON) and, for multi-line values (a PEM key), each line on its own, since
 * output is masked a line at a time.
 */
export function registerSecret(value: string): void {
  const forms = new Set([value, JSON.stringify(value).slice(1, -1)]);
  for (const line of value.split(/\r?\n/)) if (line.trim().length >= MIN_SECRET_LENGTH) forms.add(line.trim());
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

/**
 * Text from outside bake — file and folder names, tag values, another job's BUILD_URL on a lock,
 * Packer's and Ansible's lines — reaches a terminal or a Jenkins console. A control character in
 * it could move the cursor, rewrite earlier lines, set the window title, or hide the rest of the
 * message; bidirectional overrides reorder what is shown. Each one is printed as a visible escape
 * (`\x1b`, `\x07`, `\u202e`) instead. Line breaks and tabs stay: they are bake's own layout.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

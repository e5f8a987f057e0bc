/** Values a recipe could carry that would break or inject into naively built HCL. */
export const HOSTILE: string[] = [
  'a" } evil = "x',
  '${var.secret}',
  '%{ for x in ["a"] }${x}%{ endfor }',
  '$${already-escaped} and %%{ too }',
  '$$${tripled}',
  'ends with a dollar $',
  'ends with a percent %',
  'back\\slash \\" \\n \\\\',
  'line one\nline two\r\nthree\ttabbed',
  'bell \u0007 nul-free escape \u001b[31m del \u007f',
  'ünïcödé ✓ 日本語 🍞 \u2028 \u2029',
  '{{ .Path }} {{timestamp}}',
  '# not a comment // nor this /* nor this */',
  '<<EOF\nheredoc?\nEOF',
  '',
];

/**
 * The hostile values that may reach Packer at all: Packer's Go template engine would evaluate
 * `{{`, so bake refuses it there (free text goes to EC2 directly, see docs/packer.md).
 */
export const HOSTILE_FOR_PACKER: string[] = HOSTILE.filter((value) => !value.includes('{{'));

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

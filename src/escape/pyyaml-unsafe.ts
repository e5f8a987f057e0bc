/**
 * Characters PyYAML (the reader of Ansible and cloud-init) refuses to see raw (DEL, C1 controls,
 * U+FFFE/U+FFFF, lone surrogates) or reads as line breaks (NEL, U+2028, U+2029): every YAML
 * document bake writes for either spells them as escapes inside double quotes.
 * With the u flag a surrogate range matches only unpaired surrogates, never half of an emoji.
 */
export const PYYAML_UNSAFE = /[\u007f-\u009f\u2028\u2029\ud800-\udfff\ufffe\uffff]/u;
/** The same set, for replacing every occurrence. */
export const PYYAML_UNSAFE_ALL = new RegExp(PYYAML_UNSAFE.source, 'gu');

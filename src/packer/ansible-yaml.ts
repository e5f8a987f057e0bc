/**
 * YAML text for Ansible, which reads it with PyYAML: the one place documents bake hands to
 * Ansible (playbooks, extra-vars files) are serialised.
 */
import { isScalar, visit, type Document } from 'yaml';
import { PYYAML_UNSAFE as UNPRINTABLE, PYYAML_UNSAFE_ALL as UNPRINTABLE_ALL } from '../escape/pyyaml-unsafe.js';

// The yaml package writes PyYAML-unsafe characters raw, so strings holding one are forced into
// double quotes, where YAML's \x and \u escapes can spell them.
export function ansibleYamlText(doc: Document): string {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && UNPRINTABLE.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
    Pair(_key, pair) {
      // Keys given as plain strings are not visited as nodes: make them scalars first.
      if (typeof pair.key === 'string') pair.key = doc.createNode(pair.key);
      if (isScalar(pair.key) && typeof pair.key.value === 'string' && UNPRINTABLE.test(pair.key.value))
        pair.key.type = 'QUOTE_DOUBLE';
    },
  });
  // Only double-quoted scalars can hold these characters now (the comment is ASCII), so
  // replacing each by its escape keeps the document's meaning.
  return doc.toString({ lineWidth: 0 }).replace(UNPRINTABLE_ALL, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

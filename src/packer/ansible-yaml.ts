/**
 * YAML text for Ansible, which reads it with PyYAML: the one place documents bake hands to
 * Ansible (playbooks, extra-vars files) are serialised.
 */
import { isScalar, visit, type Document, type Node } from 'yaml';
import { BakeError } from '../errors/index.js';
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

/**
 * Recipe values are data, never Jinja: each string is tagged `!unsafe`, which Ansible never
 * templates, so `{{ lookup('pipe', 'id') }}` in a role var reaches the role as that text instead
 * of running a command on the agent. Jinja belongs in roles.
 */
export function unsafeValues(doc: Document, vars: Record<string, unknown>): Node {
  const node = doc.createNode(vars);
  visit(node, {
    Scalar(key, scalar) {
      if (typeof scalar.value !== 'string') return;
      // Ansible's loader refuses a \ud800 escape: such a value could never be provisioned.
      if (/[\ud800-\udfff]/u.test(scalar.value))
        throw new BakeError(
          `role var value ${JSON.stringify(scalar.value)} holds an unpaired UTF-16 surrogate, which Ansible cannot read`,
        );
      if (key !== 'key') scalar.tag = '!unsafe';
    },
  });
  return node;
}

/**
 * Values bake hands to Ansible (recipe role vars, build secrets) are data, never Jinja: every
 * string among them is tagged `!unsafe`, which Ansible never templates, so `{{ lookup('pipe',
 * 'id') }}` in a role var or a secret reaches the role as that text instead of running a command
 * on the agent, while roles still read a plain string. Jinja belongs in roles.
 */
import { isPair, isScalar, visit, type Document, type Node } from 'yaml';
import { BakeError } from '../errors/index.js';

export interface UnsafeVarsOptions {
  /** What the variables are, for errors: `role var`, `secret`. Errors name a variable, never print a value (it may be a secret). */
  what: string;
  /** Write every string double-quoted, one line whatever it holds (the secrets file). */
  doubleQuoted?: boolean;
}

/** The variables as a YAML map in `doc`, every string value tagged `!unsafe`; mapping keys (variable names) stay plain. */
export function unsafeVars(doc: Document, vars: Record<string, unknown>, options: UnsafeVarsOptions): Node {
  const node = doc.createNode(vars);
  visit(node, {
    Scalar(key, scalar, path) {
      if (typeof scalar.value !== 'string') return;
      // Ansible's loader refuses a \ud800 escape: such a value could never be provisioned.
      if (/[\ud800-\udfff]/u.test(scalar.value)) {
        const variable = path[1];
        const name = isPair(variable) && isScalar(variable.key) ? variable.key.value : '';
        throw new BakeError(
          `${options.what} ${JSON.stringify(name)} holds an unpaired UTF-16 surrogate, which Ansible cannot read`,
        );
      }
      if (key === 'key') return;
      scalar.tag = '!unsafe';
      if (options.doubleQuoted) scalar.type = 'QUOTE_DOUBLE';
    },
  });
  return node;
}

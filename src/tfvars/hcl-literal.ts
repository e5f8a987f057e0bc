/** Keys and names of tfvars HCL; string values are quoted by `hclString` (src/escape/hcl-string.ts). */
import { hclString } from '../escape/hcl-string.js';

const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** True when `key` can be written without quotes (region names like us-east-1 can). */
export function isBareKey(key: string): boolean {
  return BARE_KEY.test(key) && key !== 'true' && key !== 'false' && key !== 'null';
}

export function hclKey(key: string, style: 'bare' | 'quoted'): string {
  return style === 'bare' && isBareKey(key) ? key : hclString(key);
}

/** A variable name bake may write at the top level of a tfvars file. */
export function isVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(name);
}

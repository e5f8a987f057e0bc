import { Ec2ApiError } from '../api-error.js';
import type { ActionContext } from '../action.js';
import { tagsOf, type CloudState } from '../state.js';
import type { XmlValue } from '../xml.js';

export function tagSetXml(state: CloudState, resourceId: string): XmlValue {
  const tags = tagsOf(state, resourceId);
  return tags.length ? tags.map(([key, value]) => ({ key, value })) : undefined;
}

export function now(): string {
  return new Date().toISOString();
}

const TAG_KEY_MAX = 128;
const TAG_VALUE_MAX = 256;
// EC2 accepts letters, digits, spaces and + - = . _ : / @ in tags; control characters never.
const CONTROL = /[\u0000-\u001f\u007f]/u;

export function checkTag(key: string, value: string): void {
  if (key.length === 0 || key.length > TAG_KEY_MAX || CONTROL.test(key)) {
    throw new Ec2ApiError(
      'InvalidParameterValue',
      `Tag key '${key}' is invalid: 1 to ${TAG_KEY_MAX} printable characters`,
    );
  }
  if (key.toLowerCase().startsWith('aws:'))
    throw new Ec2ApiError('InvalidParameterValue', `Tag keys starting with 'aws:' are reserved for internal use`);
  if (value.length > TAG_VALUE_MAX || CONTROL.test(value)) {
    throw new Ec2ApiError(
      'InvalidParameterValue',
      `Tag value for '${key}' is invalid: at most ${TAG_VALUE_MAX} printable characters`,
    );
  }
}

export function requireIn<T>(items: T[], found: (item: T) => boolean, code: string, what: string, id: string): T {
  const item = items.find(found);
  if (!item) throw new Ec2ApiError(code, `The ${what} '${id}' does not exist`);
  return item;
}

export type Handlers = Record<
  string,
  (context: ActionContext) => Record<string, XmlValue> | Promise<Record<string, XmlValue>>
>;

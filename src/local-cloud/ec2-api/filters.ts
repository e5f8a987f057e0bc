import { Ec2ApiError } from './api-error.js';
import type { Filter } from './query.js';

/** EC2 filter values: `*` any run of characters, `?` exactly one, `\*` a literal star; everything else literal. */
export function wildcardMatch(pattern: string, value: string): boolean {
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    compiled = compile(pattern);
    // A plan asks the same few patterns of thousands of images.
    if (compiledPatterns.size > 1000) compiledPatterns.clear();
    compiledPatterns.set(pattern, compiled);
  }
  return compiled.test(value);
}

const compiledPatterns = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let source = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '\\' && i + 1 < chars.length) source += escapeRegExp(chars[++i]);
    else if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`, 'u');
}

function escapeRegExp(ch: string): string {
  return /[.*+?^${}()|[\]\\]/.test(ch) ? `\\${ch}` : ch;
}

/**
 * What a resource offers to filters: each filter name maps to the resource's values for it
 * (several for list fields). `tag:K` and `tag-key`/`tag-value` come from its tags.
 */
export type FilterFields = (name: string) => string[] | undefined;

export function matchesFilters(filters: Filter[], fields: FilterFields, tags: Array<[string, string]>): boolean {
  return filters.every((filter) => {
    let values: string[] | undefined;
    if (filter.name.startsWith('tag:')) {
      const key = filter.name.slice(4);
      values = tags.filter(([k]) => k === key).map(([, v]) => v);
    } else if (filter.name === 'tag-key') {
      values = tags.map(([k]) => k);
    } else if (filter.name === 'tag-value') {
      values = tags.map(([, v]) => v);
    } else {
      values = fields(filter.name);
    }
    if (values === undefined) {
      throw new Ec2ApiError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
    }
    return filter.values.some((pattern) => values.some((value) => wildcardMatch(pattern, value)));
  });
}

/** MaxResults/NextToken over an already filtered list. The token is the next offset, opaque to clients. */
export function paginate<T>(
  items: T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
): { page: T[]; nextToken?: string } {
  let start = 0;
  if (nextToken) {
    const decoded = Number(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0)
      throw new Ec2ApiError('InvalidNextToken', 'The specified token is invalid');
    start = decoded;
  }
  if (maxResults === undefined) return { page: items.slice(start) };
  if (maxResults < 5 || maxResults > 1000) {
    throw new Ec2ApiError(
      'InvalidParameterValue',
      `Value (${maxResults}) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
    );
  }
  const end = start + maxResults;
  return {
    page: items.slice(start, end),
    nextToken: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined,
  };
}

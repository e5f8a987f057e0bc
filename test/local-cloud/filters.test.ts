import { describe, expect, it } from 'vitest';
import { paginate, wildcardMatch } from '../../src/local-cloud/ec2-api/filters.js';

describe('EC2 filter values', () => {
  it('treat * and ? as wildcards and every other character literally', () => {
    expect(wildcardMatch('debian-12-*', 'debian-12-amd64-20261101-1')).toBe(true);
    expect(wildcardMatch('debian-1?-amd64', 'debian-12-amd64')).toBe(true);
    expect(wildcardMatch('debian-1?-amd64', 'debian-123-amd64')).toBe(false);
    expect(wildcardMatch('web (v1.0) [x]+$^|{2}', 'web (v1.0) [x]+$^|{2}')).toBe(true);
    expect(wildcardMatch('a.c', 'abc')).toBe(false);
    expect(wildcardMatch('a\\*c', 'a*c')).toBe(true);
    expect(wildcardMatch('a\\*c', 'abc')).toBe(false);
  });

  it('page with an opaque token and refuse a forged one', () => {
    const first = paginate([1, 2, 3, 4, 5, 6, 7], 5, undefined);
    expect(first.page).toEqual([1, 2, 3, 4, 5]);
    expect(paginate([1, 2, 3, 4, 5, 6, 7], 5, first.nextToken)).toEqual({ page: [6, 7], nextToken: undefined });
    expect(() => paginate([1], 5, 'not-a-number')).toThrow(/token is invalid/);
    expect(() => paginate([1], 2, undefined)).toThrow(/between 5 and 1000/);
  });
});

import { describe, expect, it } from 'vitest';
import { pendingSummary, scanRecordOf, scanTags } from '../../src/scan/scan-tags.js';
import { TAG_VALUE_MAX } from '../../src/tags/tag-contract.js';

const update = (i: number) => ({ package: `libpackage-number-${i}`, installed: `1.${i}-1`, fixed: `1.${i}-1+deb12u1` });

describe('a scan as tags on its image', () => {
  it('says when, how many and which, and reads back the same', () => {
    const tags = scanTags('2026-12-07T10:00:00.000Z', [update(1), update(2)], undefined);
    expect(tags['bake:scan-pending']).toBe('2');
    expect(tags['bake:scan-packages']).toBe(
      'libpackage-number-1 1.1-1 → 1.1-1+deb12u1, libpackage-number-2 1.2-1 → 1.2-1+deb12u1',
    );
    expect(scanRecordOf(tags)).toEqual({
      at: '2026-12-07T10:00:00.000Z',
      pending: 2,
      pendingSince: '2026-12-07T10:00:00.000Z',
      packages: tags['bake:scan-packages'],
    });
  });

  it('keeps the start of a pending stretch across scans, and ends it when nothing is pending', () => {
    const first = scanRecordOf(scanTags('2026-12-01T00:00:00.000Z', [update(1)], undefined));
    const second = scanTags('2026-12-07T00:00:00.000Z', [update(1)], first);
    expect(second['bake:scan-pending-since']).toBe('2026-12-01T00:00:00.000Z');
    const clean = scanTags('2026-12-08T00:00:00.000Z', [], scanRecordOf(second));
    expect(clean['bake:scan-pending-since']).toBe('');
    expect(scanRecordOf(clean)).toEqual({ at: '2026-12-08T00:00:00.000Z', pending: 0, packages: '' });
  });

  it("stays within EC2's 256 characters and says how many it left out", () => {
    const many = Array.from({ length: 40 }, (_, i) => update(i));
    const text = pendingSummary(many);
    expect([...text].length).toBeLessThanOrEqual(TAG_VALUE_MAX);
    expect(text).toMatch(/^libpackage-number-0 1\.0-1 → /);
    const shown = text.split(', ').filter((part) => part.startsWith('libpackage')).length;
    expect(text).toMatch(new RegExp(`… \\(\\+${40 - shown}\\)$`));
  });

  it('reads no scan from an image never scanned', () => {
    expect(scanRecordOf({ 'bake:recipe': 'web' })).toBeUndefined();
  });
});

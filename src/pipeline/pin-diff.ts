import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';

/**
 * A unified diff of one tfvars file, as `bake pin --check` prints it (and `git apply` reads it).
 * `before` undefined: the file does not exist yet.
 */
export function unifiedDiff(label: string, before: string | undefined, after: string): string {
  if (before === after) return '';
  return createTwoFilesPatch(
    before === undefined ? '/dev/null' : label,
    label,
    before ?? '',
    after,
    undefined,
    undefined,
    {
      context: 3,
      headerOptions: FILE_HEADERS_ONLY,
    },
  );
}

import { existsSync, readFileSync } from 'node:fs';

/** One line of the fake Packer's journal (test/fixtures/pipeline/fake-packer.mjs). */
export interface JournalEvent {
  recipe: string;
  pid: number;
  event: 'start' | 'cleanup' | 'end' | 'interrupt';
  source_ami?: string;
  vars?: Record<string, string>;
}

/**
 * The fake Packers' journal as far as it is written: whole lines only. Read while a Packer is
 * appending, the file may exist still empty, or end in a line not yet finished.
 */
export function readPackerJournal(file: string): JournalEvent[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop();
  return lines.filter(Boolean).map((line) => JSON.parse(line) as JournalEvent);
}

import type { Output } from '../io/output.js';
import type { BuildProgress } from './progress.js';

/**
 * Packer's step lines start with `==> ` (Builds, instance launch, provisioning, AMI creation);
 * those are the milestones worth a CI line. Everything else (Ansible's output) is in the log.
 */
const MILESTONE = /^\s*==> /;

export function createPlainProgress(output: Output): BuildProgress {
  return {
    planned(recipes) {
      for (const recipe of recipes) output.progress(`${recipe.name}: ${recipe.action} (${recipe.detail})`);
    },
    started(name, doing) {
      output.progress(`${name}: ${doing}`);
    },
    line(name, text) {
      if (MILESTONE.test(text)) output.progress(`${name}: ${text.trim()}`);
    },
    settled(name, status, detail) {
      output.progress(`${name}: ${status}${detail ? ` ${detail}` : ''}`);
    },
    note(message) {
      output.note(message);
    },
    close: async () => {},
  };
}

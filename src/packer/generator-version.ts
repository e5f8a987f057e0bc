/**
 * Version of what bake generates for Packer (template, playbook, verify script). It is part of
 * every recipe's fingerprint: bump it whenever a change here would bake a different image, so
 * the next plan rebuilds instead of reusing images made by the old generator.
 */
export const GENERATOR_VERSION = '4';

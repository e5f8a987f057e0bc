import path from 'node:path';
import { Command, Option } from 'commander';
import type { AwsSettings } from '../aws/settings.js';
import { createOutput, type Output } from '../io/output.js';

/** What every command gets after the common flags are read. */
export interface CommandContext {
  /** Absolute bakery root. */
  dir: string;
  output: Output;
  aws: AwsSettings;
  /** --local: use the embedded local cloud (state under DIR/.bake/local). */
  local: boolean;
  debug: boolean;
}

export interface CommonFlags {
  dir: string;
  json?: boolean;
  debug?: boolean;
  profile?: string;
  region?: string;
  endpoint?: string;
  local?: boolean;
}

/** Adds the flags every command takes (the CLI contract in the README; docs/architecture.md, "A new command"). */
export function withCommonFlags(command: Command, options: { cloud: boolean }): Command {
  command
    .option('--dir <dir>', 'bakery root', '.')
    .option('--json', 'machine-readable result on stdout; human text on stderr')
    .option('--debug', 'print stack traces');
  if (options.cloud) {
    command
      .option('--profile <profile>', 'AWS profile (default: the SDK chain)')
      .option('--region <region>', 'AWS region for calls that are not per recipe')
      .addOption(new Option('--endpoint <url>', 'EC2-compatible endpoint').env('AWS_ENDPOINT_URL_EC2'))
      .option('--local', 'use the embedded local cloud (state under .bake/local/)');
  }
  return command;
}

export function contextFrom(flags: CommonFlags): CommandContext {
  return {
    dir: path.resolve(flags.dir ?? '.'),
    output: createOutput({ json: Boolean(flags.json), debug: Boolean(flags.debug) }),
    aws: { profile: flags.profile, region: flags.region, endpoint: flags.endpoint },
    local: Boolean(flags.local),
    debug: Boolean(flags.debug),
  };
}

import { Ec2ApiError } from './api-error.js';

/** One EC2 filter: `Filter.N.Name` with its `Filter.N.Value.M` values. */
export interface Filter {
  name: string;
  values: string[];
}

/**
 * The flattened parameters of an EC2 Query request. Lists arrive as `Name.1`, `Name.2`, …
 * and structures as `Name.1.Field`; both the AWS SDK v3 and aws-sdk-go v1 number from 1.
 */
export class QueryParams {
  constructor(private readonly values: Map<string, string>) {}

  static parse(text: string): QueryParams {
    return new QueryParams(new Map(new URLSearchParams(text)));
  }

  names(): string[] {
    return [...this.values.keys()];
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  require(name: string): string {
    const value = this.values.get(name);
    if (value === undefined || value === '') {
      throw new Ec2ApiError('MissingParameter', `The request must contain the parameter ${name}`);
    }
    return value;
  }

  int(name: string): number | undefined {
    const value = this.values.get(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n))
      throw new Ec2ApiError(
        'InvalidParameterValue',
        `Value (${value}) for parameter ${name} is invalid. Expected an integer.`,
      );
    return n;
  }

  bool(name: string): boolean | undefined {
    const value = this.values.get(name);
    return value === undefined ? undefined : value === 'true';
  }

  /** `Name.1`, `Name.2`, … in index order. */
  list(name: string): string[] {
    return this.indexes(name)
      .map((i) => this.values.get(`${name}.${i}`))
      .filter((v): v is string => v !== undefined);
  }

  /** `Name.N.*` as one QueryParams per N, keys relative to `Name.N.`. */
  structs(name: string): QueryParams[] {
    return this.indexes(name).map((i) => this.scope(`${name}.${i}`));
  }

  /** The parameters under `prefix.` with the prefix removed. */
  scope(prefix: string): QueryParams {
    const inner = new Map<string, string>();
    const lead = `${prefix}.`;
    for (const [key, value] of this.values) if (key.startsWith(lead)) inner.set(key.slice(lead.length), value);
    return new QueryParams(inner);
  }

  has(prefix: string): boolean {
    for (const key of this.values.keys()) if (key === prefix || key.startsWith(`${prefix}.`)) return true;
    return false;
  }

  filters(): Filter[] {
    return this.structs('Filter').map((f) => ({ name: f.require('Name'), values: f.list('Value') }));
  }

  /** `TagSpecification.N.ResourceType` + `.Tag.M.Key/Value`, for the given resource type. */
  tagSpecifications(resourceType: string): Array<[string, string]> {
    const tags: Array<[string, string]> = [];
    for (const spec of this.structs('TagSpecification')) {
      if (spec.get('ResourceType') !== resourceType) continue;
      for (const tag of spec.structs('Tag')) tags.push([tag.require('Key'), tag.get('Value') ?? '']);
    }
    return tags;
  }

  private indexes(name: string): number[] {
    const found = new Set<number>();
    const lead = `${name}.`;
    for (const key of this.values.keys()) {
      if (!key.startsWith(lead)) continue;
      const n = Number(key.slice(lead.length).split('.')[0]);
      if (Number.isInteger(n)) found.add(n);
    }
    return [...found].sort((a, b) => a - b);
  }
}

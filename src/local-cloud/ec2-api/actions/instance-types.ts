import { Ec2ApiError } from '../api-error.js';
import type { ActionContext } from '../action.js';
import { matchesFilters, paginate } from '../filters.js';
import type { Handlers } from './shared.js';
import { architectureOf } from '../../../tags/architecture.js';

/**
 * The instance types the local cloud offers, in every region and zone: the common current
 * families. Anything else (p4d.24xlarge, a typo) is "not offered here", which is how
 * `bake doctor`'s tests meet a type a region does not have.
 */
const FAMILIES = [
  't2',
  't3',
  't3a',
  't4g',
  'm5',
  'm5a',
  'm6i',
  'm6g',
  'm7i',
  'm7g',
  'c5',
  'c6i',
  'c6g',
  'c7i',
  'c7g',
  'r5',
  'r6i',
  'r6g',
  'r7g',
];
const SIZES = ['nano', 'micro', 'small', 'medium', 'large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '16xlarge'];

export const OFFERED_INSTANCE_TYPES: readonly string[] = FAMILIES.flatMap((family) =>
  SIZES.map((size) => `${family}.${size}`),
);

// Which families are Graviton is the same question the recipe loader asks: one answer, in the foundation.
export { architectureOf };

function offeringLocations(region: string, locationType: string): string[] {
  switch (locationType) {
    case 'region':
      return [region];
    case 'availability-zone':
      return ['a', 'b', 'c'].map((zone) => `${region}${zone}`);
    case 'availability-zone-id':
      return [1, 2, 3].map((n) => `${region}-az${n}`);
    default:
      throw new Ec2ApiError('InvalidParameterValue', `Value (${locationType}) for parameter LocationType is invalid`);
  }
}

function describeInstanceTypeOfferings(context: ActionContext) {
  const { params, region } = context;
  const locationType = params.get('LocationType') ?? 'region';
  const offerings = OFFERED_INSTANCE_TYPES.flatMap((instanceType) =>
    offeringLocations(region, locationType).map((location) => ({ instanceType, locationType, location })),
  ).filter((offering) =>
    matchesFilters(
      params.filters(),
      (name) =>
        name === 'instance-type' ? [offering.instanceType] : name === 'location' ? [offering.location] : undefined,
      [],
    ),
  );
  const { page, nextToken } = paginate(offerings, params.int('MaxResults'), params.get('NextToken'));
  return { instanceTypeOfferingSet: page, nextToken };
}

function describeInstanceTypes(context: ActionContext) {
  const asked = context.params.list('InstanceType');
  const unknown = asked.find((type) => !OFFERED_INSTANCE_TYPES.includes(type));
  if (unknown)
    throw new Ec2ApiError('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown}]`);
  const types = asked.length ? asked : OFFERED_INSTANCE_TYPES;
  return {
    instanceTypeSet: types.map((instanceType) => ({
      instanceType,
      currentGeneration: true,
      processorInfo: { supportedArchitectures: [architectureOf(instanceType)] },
    })),
  };
}

export const instanceTypeActions: Handlers = {
  DescribeInstanceTypeOfferings: describeInstanceTypeOfferings,
  DescribeInstanceTypes: describeInstanceTypes,
};

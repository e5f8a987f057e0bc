import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { CloudError } from '../errors/index.js';
import type { BaseImage } from '../recipes/model.js';
import { createEc2Client, createSsmClient } from './clients.js';
import { cloudError } from './image-catalog.js';
import type { AwsSettings } from './settings.js';

export interface ResolvedBase {
  imageId: string;
  name?: string;
}

/** The newest image by CreationDate (ISO 8601 strings sort as dates). */
export function mostRecent(images: Image[]): Image | undefined {
  return [...images].sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
}

/**
 * The AMI a recipe's base stands for in one region, looked up now: an AMI id is checked to
 * exist, a name filter picks the most recent match, an SSM parameter is read. A `recipe:`
 * base is the plan's business (it needs the parent's build), not this function's.
 */
export async function resolveBaseImage(settings: AwsSettings, base: BaseImage, region: string): Promise<ResolvedBase> {
  switch (base.kind) {
    case 'ami': {
      const ec2 = createEc2Client(settings, region);
      try {
        const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [base.ami] }));
        const image = Images[0];
        if (!image?.ImageId) throw new CloudError(`base image ${base.ami} does not exist in ${region}`);
        // An image of the wrong architecture would only fail once Packer's instance is up.
        if (base.architecture && image.Architecture && image.Architecture !== base.architecture)
          throw new CloudError(
            `base image ${base.ami} in ${region} is ${image.Architecture}, not ${base.architecture}`,
          );
        return { imageId: image.ImageId, name: image.Name };
      } catch (error) {
        if ((error as { name?: string }).name?.startsWith('InvalidAMIID')) {
          throw new CloudError(`base image ${base.ami} does not exist in ${region}`);
        }
        throw cloudError(error, `looking up base image ${base.ami} in ${region}`);
      } finally {
        ec2.destroy();
      }
    }
    case 'filter': {
      const ec2 = createEc2Client(settings, region);
      try {
        const { Images = [] } = await ec2.send(
          new DescribeImagesCommand({
            Owners: base.owners.length ? base.owners : undefined,
            Filters: [
              { Name: 'name', Values: [base.name] },
              { Name: 'state', Values: ['available'] },
              ...(base.architecture ? [{ Name: 'architecture', Values: [base.architecture] }] : []),
            ],
          }),
        );
        const image = mostRecent(Images);
        if (!image?.ImageId) {
          const owners = base.owners.length ? ` owned by ${base.owners.join(', ')}` : '';
          const arch = base.architecture ? ` for ${base.architecture}` : '';
          throw new CloudError(`no image matches ${base.name}${owners}${arch} in ${region}`);
        }
        return { imageId: image.ImageId, name: image.Name };
      } catch (error) {
        throw cloudError(error, `looking up base image ${base.name} in ${region}`);
      } finally {
        ec2.destroy();
      }
    }
    case 'ssm': {
      const ssm = createSsmClient(settings, region);
      try {
        const { Parameter } = await ssm.send(new GetParameterCommand({ Name: base.parameter }));
        if (!Parameter?.Value) throw new CloudError(`SSM parameter ${base.parameter} has no value in ${region}`);
        return { imageId: Parameter.Value };
      } catch (error) {
        if ((error as { name?: string }).name === 'ParameterNotFound') {
          throw new CloudError(`SSM parameter ${base.parameter} does not exist in ${region}`);
        }
        throw cloudError(error, `reading SSM parameter ${base.parameter} in ${region}`);
      } finally {
        ssm.destroy();
      }
    }
    case 'recipe':
      throw new CloudError(`base recipe ${base.recipe} is resolved from its own build, not looked up in ${region}`);
  }
}

import { GetParametersCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { createSsmClient } from './clients.js';
import { cloudError } from './image-catalog.js';
import type { AwsSettings } from './settings.js';

/** SSM parameters that pin images, one region at a time (parameters are regional). */
export interface ParameterStore {
  /** name → value of the named parameters that exist in the region (missing ones are left out). */
  read(region: string, names: string[]): Promise<Map<string, string>>;
  /** Writes an AMI id with data type aws:ec2:image, so SSM itself checks it names an image. */
  writeImage(region: string, name: string, ami: string): Promise<void>;
}

// GetParameters takes at most 10 names per call.
const GET_PARAMETERS_LIMIT = 10;

/** One SSM client per region, made on first use; `close` destroys them all. */
export function ssmClients(settings: AwsSettings): { client(region: string): SSMClient; close(): void } {
  const clients = new Map<string, SSMClient>();
  return {
    client(region) {
      let c = clients.get(region);
      if (!c) clients.set(region, (c = createSsmClient(settings, region)));
      return c;
    },
    close() {
      for (const c of clients.values()) c.destroy();
    },
  };
}

export function createParameterStore(settings: AwsSettings): ParameterStore & { close(): void } {
  const clients = ssmClients(settings);
  const client = clients.client;
  return {
    async read(region, names) {
      const values = new Map<string, string>();
      const unique = [...new Set(names)];
      for (let i = 0; i < unique.length; i += GET_PARAMETERS_LIMIT) {
        try {
          const { Parameters = [] } = await client(region).send(
            new GetParametersCommand({ Names: unique.slice(i, i + GET_PARAMETERS_LIMIT) }),
          );
          for (const p of Parameters) if (p.Name && p.Value !== undefined) values.set(p.Name, p.Value);
        } catch (error) {
          throw cloudError(
            error,
            `reading SSM parameters ${unique.slice(i, i + GET_PARAMETERS_LIMIT).join(', ')} in ${region}`,
          );
        }
      }
      return values;
    },
    async writeImage(region, name, ami) {
      try {
        await client(region).send(
          new PutParameterCommand({
            Name: name,
            Value: ami,
            Type: 'String',
            DataType: 'aws:ec2:image',
            Overwrite: true,
          }),
        );
      } catch (error) {
        throw cloudError(error, `writing SSM parameter ${name} in ${region}`);
      }
    },
    close() {
      clients.close();
    },
  };
}

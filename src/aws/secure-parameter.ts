import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { createSsmClient } from './clients.js';
import type { AwsSettings } from './settings.js';

/** A SecureString (or String) parameter's decrypted value; undefined when the parameter does not exist. */
export async function readSecureParameter(
  settings: AwsSettings,
  region: string,
  name: string,
): Promise<string | undefined> {
  const ssm = createSsmClient(settings, region);
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return Parameter?.Value;
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return undefined;
    throw error;
  } finally {
    ssm.destroy();
  }
}

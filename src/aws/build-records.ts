/**
 * Build records in SSM (src/tags/build-record.ts): the image ids bake vouches for, per recipe,
 * fingerprint and region. Read with GetParameters (10 names a call, regions in parallel), written
 * with PutParameter by the build identity.
 */
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { buildRecordName, formatBuildRecord, parseBuildRecord, type BuildRecord } from '../tags/build-record.js';
import { cloudError } from './image-catalog.js';
import { createParameterStore, ssmClients } from './ssm-parameters.js';
import type { AwsSettings } from './settings.js';

/** One recipe's fingerprint, in the regions whose records are asked for. */
export interface RecordQuery {
  recipe: string;
  fingerprint: string;
  regions: string[];
}

export interface BuildRecords {
  /** Recipe → region → the record of the query's fingerprint there (regions without one are left out). */
  read(queries: RecordQuery[]): Promise<Map<string, Record<string, BuildRecord>>>;
  /** Records the image as this recipe's fingerprint in its region (replacing an earlier record). */
  write(recipe: string, fingerprint: string, region: string, record: BuildRecord): Promise<void>;
}

export function createBuildRecords(settings: AwsSettings, bakery: string): BuildRecords & { close(): void } {
  const store = createParameterStore(settings);
  const clients = ssmClients(settings);
  const client = clients.client;
  return {
    async read(queries) {
      const byRegion = new Map<string, Array<{ recipe: string; name: string }>>();
      for (const query of queries)
        for (const region of query.regions) {
          const list = byRegion.get(region) ?? [];
          list.push({ recipe: query.recipe, name: buildRecordName(bakery, query.recipe, query.fingerprint) });
          byRegion.set(region, list);
        }
      const found = new Map<string, Record<string, BuildRecord>>();
      await Promise.all(
        [...byRegion].map(async ([region, wanted]) => {
          const values = await store.read(
            region,
            wanted.map((w) => w.name),
          );
          for (const { recipe, name } of wanted) {
            const value = values.get(name);
            const record = value === undefined ? undefined : parseBuildRecord(value);
            if (!record) continue;
            const regions = found.get(recipe) ?? {};
            regions[region] = record;
            found.set(recipe, regions);
          }
        }),
      );
      return found;
    },
    async write(recipe, fingerprint, region, record) {
      const name = buildRecordName(bakery, recipe, fingerprint);
      try {
        await client(region).send(
          new PutParameterCommand({
            Name: name,
            Value: formatBuildRecord(record),
            Type: 'String',
            Overwrite: true,
            Description: `bake build record: ${recipe} ${fingerprint}`,
          }),
        );
      } catch (error) {
        throw cloudError(error, `writing the build record ${name} in ${region}`);
      }
    },
    close() {
      store.close();
      clients.close();
    },
  };
}

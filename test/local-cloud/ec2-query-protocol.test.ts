import { CreateTagsCommand, DescribeImagesCommand, DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeText, responseXml } from '../../src/local-cloud/ec2-api/xml.js';
import { baseImageId } from '../../src/local-cloud/index.js';
import { startTestCloud, type TestCloud } from './memory-host.js';
import { sendSigned } from './signed-request.js';

const post = (cloud: TestCloud, body: string, region = 'us-east-1') =>
  sendSigned({ endpoint: cloud.cloud.endpoint, credentials: cloud.cloud.credentials, region, body });

const xml = new XMLParser({ ignoreAttributes: false, parseTagValue: false });

describe('the EC2 Query endpoint', () => {
  let t: TestCloud;
  beforeAll(async () => {
    t = await startTestCloud();
  });
  afterAll(() => t.close());

  it('answers in the EC2 namespace with a requestId and lists as <item> elements', async () => {
    const { status, text } = await post(t, 'Action=DescribeRegions&Version=2016-11-15');
    expect(status).toBe(200);
    const doc = xml.parse(text);
    expect(doc.DescribeRegionsResponse['@_xmlns']).toBe('http://ec2.amazonaws.com/doc/2016-11-15/');
    expect(doc.DescribeRegionsResponse.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const names = doc.DescribeRegionsResponse.regionInfo.item.map((r: { regionName: string }) => r.regionName);
    expect(names).toContain('eu-west-1');
  });

  it('takes the region from the SigV4 credential scope', async () => {
    const { text } = await post(t, 'Action=DescribeImages&ImageId.1=' + baseImageId('eu-west-1'), 'eu-west-1');
    expect(xml.parse(text).DescribeImagesResponse.imagesSet.item.imageId).toBe(baseImageId('eu-west-1'));
    const other = await post(t, 'Action=DescribeImages&ImageId.1=' + baseImageId('eu-west-1'), 'us-east-1');
    expect(other.status).toBe(400);
    expect(xml.parse(other.text).Response.Errors.Error.Code).toBe('InvalidAMIID.NotFound');
  });

  it('reports an unknown action as InvalidAction in the EC2 error shape', async () => {
    const { status, text } = await post(t, 'Action=LaunchRocket&Version=2016-11-15');
    expect(status).toBe(400);
    const doc = xml.parse(text);
    expect(doc.Response.Errors.Error.Code).toBe('InvalidAction');
    expect(doc.Response.Errors.Error.Message).toContain('LaunchRocket');
    expect(doc.Response.RequestID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts the parameters in a GET query string too', async () => {
    const response = await sendSigned({
      endpoint: t.cloud.endpoint,
      credentials: t.cloud.credentials,
      region: 'ap-northeast-2',
      method: 'GET',
      query: 'Action=DescribeAvailabilityZones&Version=2016-11-15',
    });
    const doc = xml.parse(response.text);
    expect(doc.DescribeAvailabilityZonesResponse.availabilityZoneInfo.item[0].zoneName).toBe('ap-northeast-2a');
  });

  it('returns hostile tag values byte for byte, escaped in the XML', async () => {
    const ec2 = t.ec2();
    const imageId = baseImageId('us-east-1');
    // Tags on a public image are per account on AWS; the local cloud keeps one view.
    const hostile = `</value><key>x</key>&amp; "quoted" 'single' <![CDATA[ ]]> ünïcödé 🍞`;
    await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: 'team<&>', Value: hostile }] }));
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    expect(Images[0].Tags).toContainEqual({ Key: 'team<&>', Value: hostile });
    const { Tags = [] } = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['team<&>'] }] }));
    expect(Tags).toEqual([{ ResourceId: imageId, ResourceType: 'image', Key: 'team<&>', Value: hostile }]);
  });

  it('refuses control characters in tags instead of writing XML no parser could read', async () => {
    const ec2 = t.ec2();
    await expect(
      ec2.send(
        new CreateTagsCommand({ Resources: [baseImageId('us-east-1')], Tags: [{ Key: 'k', Value: 'a\u0000b' }] }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });
});

describe('the XML writer', () => {
  it('escapes markup and replaces characters XML cannot carry', () => {
    expect(escapeText(`<a href="x">&'\r`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&#13;');
    expect(escapeText('a\u0000b\u001bc')).toBe('a\uFFFDb\uFFFDc');
  });

  it('never takes an element name from data', () => {
    expect(() => responseXml('Describe', 'r', { 'bad name': 'x' })).toThrow(/bad XML element name/);
    expect(() => responseXml('x><y', 'r', {})).toThrow(/bad action name/);
  });
});

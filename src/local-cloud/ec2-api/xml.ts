/**
 * A tiny XML writer for EC2 responses. Element names come from this code only (checked);
 * every text value, which may be user data such as a tag value, is escaped here and nowhere else.
 */
export type XmlValue = string | number | boolean | undefined | null | XmlValue[] | { [element: string]: XmlValue };

const ELEMENT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
// XML 1.0 cannot carry these characters even as references; EC2 rejects them on input, this is the last guard.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeText(text: string): string {
  return text
    .replace(NOT_XML_CHAR, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;');
}

/** EC2 names a list's elements `item`; the Query services of STS and IAM name them `member`. */
type ListElement = 'item' | 'member';

function element(name: string, value: XmlValue, list: ListElement = 'item'): string {
  if (!ELEMENT_NAME.test(name)) throw new Error(`bad XML element name ${JSON.stringify(name)}`);
  if (value === undefined || value === null) return '';
  return `<${name}>${content(value, list)}</${name}>`;
}

function content(value: XmlValue, list: ListElement = 'item'): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((item) => element(list, item, list)).join('');
  if (typeof value === 'object')
    return Object.entries(value)
      .map(([name, v]) => element(name, v, list))
      .join('');
  return escapeText(String(value));
}

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** `<ActionResponse xmlns=…><requestId>…</requestId>…</ActionResponse>` */
export function responseXml(action: string, requestId: string, body: Record<string, XmlValue>): string {
  const name = `${action}Response`;
  if (!ELEMENT_NAME.test(name)) throw new Error(`bad action name ${JSON.stringify(action)}`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${name} xmlns="${EC2_NAMESPACE}">${element('requestId', requestId)}${content(body)}</${name}>`;
}

export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${element('Response', {
    Errors: { Error: { Code: code, Message: message } },
    RequestID: requestId,
  })}`;
}

/** STS's and IAM's Query answer: `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`. */
export function queryResponseXml(
  action: string,
  namespace: string,
  requestId: string,
  result: Record<string, XmlValue>,
): string {
  const name = `${action}Response`;
  if (!ELEMENT_NAME.test(name)) throw new Error(`bad action name ${JSON.stringify(action)}`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${name} xmlns="${escapeText(namespace)}">${element(`${action}Result`, result, 'member')}${element('ResponseMetadata', { RequestId: requestId })}</${name}>`;
}

/** STS's and IAM's error document. */
export function queryErrorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${element('ErrorResponse', {
    Error: { Type: 'Sender', Code: code, Message: message },
    RequestId: requestId,
  })}`;
}

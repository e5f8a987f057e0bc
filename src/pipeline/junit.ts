/**
 * `bake build --junit FILE`: the run as JUnit XML, so Jenkins shows one test case per recipe.
 * All XML is built through `element()`, which escapes every name and text it is given: recipe
 * names, error messages and Packer log lines are user data and may hold anything.
 */
import { writeFileNoFollow } from '../files/write-private-file.js';
import { XMLValidator } from 'fast-xml-parser';
import type { BuildReport } from './build-report.js';

export const JUNIT_SUITE = 'bake build';

type Node = string | XmlElement;
interface XmlElement {
  name: string;
  attrs: Record<string, string | number | undefined>;
  children: Node[];
}

function element(name: string, attrs: XmlElement['attrs'] = {}, children: Node[] = []): XmlElement {
  return { name, attrs, children };
}

/** Characters XML 1.0 cannot carry at all (ANSI escapes from tools, NULs): made visible instead. */
const NOT_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function escapeXmlText(text: string): string {
  return text
    .replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

export function escapeXmlAttribute(text: string): string {
  // Newlines and tabs in attributes would be normalised to spaces by parsers; keep them as references.
  return escapeXmlText(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

function serialise(node: Node, indent: string): string {
  if (typeof node === 'string') return escapeXmlText(node);
  const attrs = Object.entries(node.attrs)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ` ${key}="${escapeXmlAttribute(String(value))}"`)
    .join('');
  if (node.children.length === 0) return `${indent}<${node.name}${attrs}/>`;
  if (node.children.every((child) => typeof child === 'string')) {
    return `${indent}<${node.name}${attrs}>${node.children.map((c) => serialise(c, '')).join('')}</${node.name}>`;
  }
  const inner = node.children.map((child) => serialise(child, `${indent}  `)).join('\n');
  return `${indent}<${node.name}${attrs}>\n${inner}\n${indent}</${node.name}>`;
}

const seconds = (s: number) => s.toFixed(3);

export function junitXml(report: BuildReport, timestamp: string): string {
  const cases = report.recipes.map((recipe) => {
    const children: Node[] = [];
    const details = [
      recipe.log ? `log: ${recipe.log}` : undefined,
      Object.keys(recipe.amis).length
        ? `amis: ${Object.entries(recipe.amis)
            .map(([r, a]) => `${r}=${a}`)
            .join(' ')}`
        : undefined,
      recipe.reasons.length ? `reasons: ${recipe.reasons.join('; ')}` : undefined,
    ].filter((line): line is string => Boolean(line));
    if (recipe.status === 'failed' || recipe.status === 'aborted') {
      const tail = recipe.log_tail?.length ? `\n${recipe.log_tail.join('\n')}` : '';
      const kind = recipe.status === 'failed' ? 'failure' : 'error';
      children.push(
        element(kind, { message: recipe.error ?? recipe.status, type: recipe.status }, [
          `${recipe.error ?? recipe.status}${tail}`,
        ]),
      );
    } else if (recipe.status === 'skipped') {
      children.push(element('skipped', { message: recipe.error ?? 'skipped' }));
    }
    if (details.length) children.push(element('system-out', {}, [details.join('\n')]));
    return element(
      'testcase',
      { classname: JUNIT_SUITE, name: recipe.name, time: seconds(recipe.duration_s) },
      children,
    );
  });
  const launchCases = report.recipes.flatMap((recipe) => launchTestCases(recipe));
  const count = (...statuses: string[]) => report.recipes.filter((r) => statuses.includes(r.status)).length;
  const launchCount = (kind: string) =>
    launchCases.filter((c) => c.children.some((child) => typeof child !== 'string' && child.name === kind)).length;
  const total = report.recipes.reduce((sum, r) => sum + r.duration_s, 0);
  const suite = element(
    'testsuite',
    {
      name: JUNIT_SUITE,
      tests: report.recipes.length + launchCases.length,
      failures: count('failed') + launchCount('failure'),
      errors: count('aborted'),
      skipped: count('skipped') + launchCount('skipped'),
      time: seconds(total),
      timestamp,
    },
    [...cases, ...launchCases],
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${serialise(element('testsuites', { name: JUNIT_SUITE }, [suite]), '')}\n`;
}

/**
 * A recipe's launch test as test cases of their own (class `launch test.<recipe>`): cloud-init,
 * then one per check, so Jenkins shows which check failed on the booted machine.
 */
function launchTestCases(recipe: BuildReport['recipes'][number]): XmlElement[] {
  const test = recipe.launch_test;
  if (!test || test.status === 'off') return [];
  const classname = `launch test.${recipe.name}`;
  const cases: XmlElement[] = [];
  const cloudInit = test.cloud_init;
  const cloudInitChildren: Node[] = [];
  if (cloudInit.status === 'error')
    cloudInitChildren.push(
      element('failure', { message: test.error ?? 'cloud-init reported an error', type: 'cloud-init' }, [
        cloudInit.output,
      ]),
    );
  else if (cloudInit.status === 'not reached')
    cloudInitChildren.push(
      element('failure', { message: test.error ?? 'not reached', type: 'launch' }, [test.error ?? 'not reached']),
    );
  else if (cloudInit.status === 'absent')
    cloudInitChildren.push(element('skipped', { message: 'the image has no cloud-init' }));
  if (test.instance_id)
    cloudInitChildren.push(
      element('system-out', {}, [
        `image ${test.image} (${test.region}), instance ${test.instance_id}\n${cloudInit.output}`,
      ]),
    );
  cases.push(element('testcase', { classname, name: 'cloud-init', time: seconds(test.duration_s) }, cloudInitChildren));
  for (const check of test.checks) {
    const children: Node[] = [];
    if (check.status === 'failed')
      children.push(
        element('failure', { message: check.check, type: check.kind }, [`${check.location}\n${check.output}`]),
      );
    cases.push(element('testcase', { classname, name: check.check, time: seconds(check.duration_s) }, children));
  }
  return cases;
}

/** Written atomically, never through a link (a path in /tmp is common), and only once the text is well-formed XML. */
export async function writeJunit(file: string, report: BuildReport, timestamp: string): Promise<void> {
  await writeFileNoFollow(file, junitXml(report, timestamp), {
    mode: 0o644,
    what: 'the JUnit report',
    createDirectory: true,
    verify: (text) => {
      const valid = XMLValidator.validate(text);
      if (valid !== true) throw new Error(`${file}: generated JUnit XML is not well-formed: ${valid.err.msg}`);
    },
  });
}

/**
 * The launch test's user-data: the recipe's `launch_test.user_data` templates rendered with the
 * same handlebars rendering as `cloud_init:` (src/cloud-init/render.ts), then put together the
 * way a downstream stack passes them (Terraform's cloudinit_config): one part as it is, several
 * as one MIME multipart document that cloud-init takes apart again.
 */
import { randomBytes } from 'node:crypto';
import { checkCloudConfigYaml, renderCloudInitTemplate } from '../cloud-init/render.js';
import { RecipeError } from '../errors/index.js';
import type { Bakery, CloudInitUse, Recipe } from '../recipes/model.js';

/** EC2 refuses user-data over 16 KB (before base64). */
export const USER_DATA_MAX_BYTES = 16 * 1024;

export interface RenderedUserDataPart {
  template: string;
  contentType: string;
  content: string;
}

/** What cloud-init calls each kind of part, by its first line (cloud-init's own dispatch). */
const PART_TYPES: Array<[RegExp, string]> = [
  [/^#cloud-config\b/, 'text/cloud-config'],
  [/^#!/, 'text/x-shellscript'],
  [/^#cloud-boothook\b/, 'text/cloud-boothook'],
  [/^#include\b/, 'text/x-include-url'],
  [/^## template: jinja\b/, 'text/jinja2'],
];

function partType(content: string, use: CloudInitUse): string {
  const match = PART_TYPES.find(([first]) => first.test(content));
  if (match) return match[1];
  if (/^Content-Type: multipart\//i.test(content)) return 'multipart';
  throw new RecipeError(
    `launch_test user_data template ${use.template} must render to user-data cloud-init reads: #cloud-config, a #! script, #cloud-boothook, #include or MIME multipart`,
    use.location,
  );
}

export async function renderUserDataPart(
  bakery: Bakery,
  recipe: Recipe,
  use: CloudInitUse,
): Promise<RenderedUserDataPart> {
  const content = await renderCloudInitTemplate(bakery, recipe, use);
  const contentType = partType(content, use);
  if (contentType === 'text/cloud-config') checkCloudConfigYaml(content, use);
  return { template: use.template, contentType, content };
}

/** The user-data text RunInstances gets; '' when the recipe gives none. */
export async function renderUserData(bakery: Bakery, recipe: Recipe, uses: readonly CloudInitUse[]): Promise<string> {
  const parts: RenderedUserDataPart[] = [];
  for (const use of uses) parts.push(await renderUserDataPart(bakery, recipe, use));
  const text = combineUserData(parts, uses);
  const bytes = Buffer.byteLength(text);
  if (bytes > USER_DATA_MAX_BYTES) {
    throw new RecipeError(
      `launch_test user_data renders to ${bytes} bytes; EC2 takes at most ${USER_DATA_MAX_BYTES}`,
      uses[0].location,
    );
  }
  return text;
}

export function combineUserData(parts: readonly RenderedUserDataPart[], uses: readonly CloudInitUse[] = []): string {
  if (parts.length === 0) return '';
  if (parts.length === 1) return parts[0].content;
  const nested = parts.findIndex((part) => part.contentType === 'multipart');
  if (nested >= 0) {
    const where = uses[nested]?.location ?? { file: parts[nested].template, line: 1, col: 1 };
    throw new RecipeError(
      `launch_test user_data template ${parts[nested].template} renders MIME multipart: give it alone, or give its parts as separate templates`,
      where,
    );
  }
  // A boundary that occurs in no part, so no part can end the document early.
  let boundary: string;
  do boundary = `==BAKE_USER_DATA_${randomBytes(12).toString('hex')}==`;
  while (parts.some((part) => part.content.includes(boundary)));
  const lines = ['Content-Type: multipart/mixed; boundary="' + boundary + '"', 'MIME-Version: 1.0', ''];
  for (const part of parts) {
    const file = part.template.replace(/["\\\r\n]/g, '_');
    lines.push(
      `--${boundary}`,
      `Content-Type: ${part.contentType}; charset="utf-8"`,
      'MIME-Version: 1.0',
      'Content-Transfer-Encoding: 8bit',
      `Content-Disposition: attachment; filename="${file}"`,
      '',
      part.content.endsWith('\n') ? part.content.slice(0, -1) : part.content,
    );
  }
  lines.push(`--${boundary}--`, '');
  return lines.join('\n');
}

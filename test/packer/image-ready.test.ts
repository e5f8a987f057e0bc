import { describe, expect, it } from 'vitest';
import { finishedImageReader } from '../../src/packer/image-ready.js';

/** What each line of a Packer run answers, in order (undefined for most). */
const answers = (lines: string[]) => {
  const read = finishedImageReader();
  return lines.map((line) => [line, read(line)]).filter(([, ami]) => ami !== undefined);
};

// Packer 1.6.6's amazon-ebs output of a bake (from a build log), from the end of provisioning.
const FINISHED = [
  '==> amazon-ebs.recipe: Stopping the source instance...',
  '    amazon-ebs.recipe: Stopping instance',
  '==> amazon-ebs.recipe: Waiting for the instance to stop...',
  '==> amazon-ebs.recipe: Creating AMI vault-816c2d9bff31-20261130110738 from instance i-e6ac5bc0d8c6798b5',
  '    amazon-ebs.recipe: AMI: ami-504b3489802c6f147',
  '==> amazon-ebs.recipe: Waiting for AMI to become ready...',
  '==> amazon-ebs.recipe: Adding tags to AMI (ami-504b3489802c6f147)...',
  '==> amazon-ebs.recipe: Creating AMI tags',
  '    amazon-ebs.recipe: Adding tag: "bake:recipe": "vault"',
  // A user's tag value is a message: it says nothing about the build.
  '    amazon-ebs.recipe: Adding tag: "note": "Error: cancelled by nobody"',
  '==> amazon-ebs.recipe: Terminating the source AWS instance...',
  '==> amazon-ebs.recipe: Cleaning up any extra volumes...',
  '==> amazon-ebs.recipe: Deleting temporary security group...',
  '==> amazon-ebs.recipe: Deleting temporary keypair...',
  "Build 'amazon-ebs.recipe' finished after 1 minute 2 seconds.",
];

describe('finishedImageReader', () => {
  it('names the image once, at the line where Packer starts cleaning up after it', () => {
    expect(answers(FINISHED)).toEqual([
      ['==> amazon-ebs.recipe: Terminating the source AWS instance...', 'ami-504b3489802c6f147'],
    ]);
  });

  it('never names an image Packer deregisters after an error', () => {
    const halted = [
      ...FINISHED.slice(0, 7),
      '==> amazon-ebs.recipe: Error tagging AMI: RequestLimitExceeded',
      '==> amazon-ebs.recipe: Deregistering the AMI and deleting unassociated snapshots because of cancellation, or error...',
      ...FINISHED.slice(10),
    ];
    expect(answers(halted)).toEqual([]);
  });

  it('never names an image when the build was interrupted while waiting for it', () => {
    const interrupted = [
      ...FINISHED.slice(0, 6),
      'Cancelling build after receiving interrupt',
      '==> amazon-ebs.recipe: Deregistering the AMI and deleting unassociated snapshots because of cancellation, or error...',
      '==> amazon-ebs.recipe: Terminating the source AWS instance...',
    ];
    expect(answers(interrupted)).toEqual([]);
  });

  it('names nothing when provisioning failed, even after a role printed a line like Packer’s', () => {
    const failed = [
      '==> amazon-ebs.recipe: Provisioning with Ansible...',
      '    amazon-ebs.recipe: AMI: ami-0123456789abcdef0',
      '    amazon-ebs.recipe: fatal: [default]: FAILED! => {"changed": false}',
      '==> amazon-ebs.recipe: Provisioning step had errors: Running the cleanup provisioner, if present...',
      '==> amazon-ebs.recipe: Terminating the source AWS instance...',
    ];
    expect(answers(failed)).toEqual([]);
  });
});

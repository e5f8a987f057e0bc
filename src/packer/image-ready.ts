/**
 * When is Packer's image finished, before Packer exits? The amazon builder (Packer 1.6's built-in
 * one and the 1.11+ plugin print the same lines) creates the image ("AMI: ami-…"), waits until it
 * is available, tags it, and only then starts its cleanup: "Terminating the source AWS instance...",
 * then the temporary security group and key pair: tens of seconds on AWS that a child recipe or
 * the image's copies need not wait for.
 *
 * A build that stops after creating the image (an error tagging it, an interrupt) deregisters it
 * during the same cleanup, before terminating the instance, and says so, or prints an error:
 * after either, the image is never reported finished.
 */

/** Packer's own lines (`==> `) and its messages (indented) name the build, then a colon. */
const IMAGE_CREATED = /^(?:==>|\s+)\s*[^\s:]+: AMI: (ami-[0-9a-f]+)\s*$/;
const CLEANUP_STARTED = /^==> [^\s:]+: Terminating the source AWS instance\.\.\./;
/** Packer's own lines, not its indented messages (which echo tag values): an error, a deregistered image, an interrupt. */
const BUILD_STOPPED = /^\S.*(?:\berror|Deregistering the AMI|\bcancel|\binterrupt)/i;

/**
 * Returns a reader for one Packer run's lines, in order: it answers the image id once, at the
 * line where Packer starts cleaning up after a finished image, and undefined for every other line.
 */
export function finishedImageReader(): (line: string) => string | undefined {
  let created: string | undefined;
  let stopped = false;
  let answered = false;
  return (line) => {
    if (answered || stopped) return undefined;
    const image = IMAGE_CREATED.exec(line);
    if (image) {
      created = image[1];
      return undefined;
    }
    if (!created) return undefined;
    if (BUILD_STOPPED.test(line)) {
      stopped = true;
      return undefined;
    }
    if (!CLEANUP_STARTED.test(line)) return undefined;
    answered = true;
    return created;
  };
}

/** Which Packer generation the template is written for. */
export type PackerShape = 'legacy' | 'modern';

/** Where the build runs, when it is not plain AWS. */
export interface PackerTarget {
  /** An EC2-compatible endpoint (custom_endpoint_ec2). */
  ec2Endpoint?: string;
  /** bake's embedded local cloud: instances are sshd processes on loopback addresses. */
  local?: { sshPort: number };
}

import type { InstanceHost } from '../../src/local-cloud/index.js';

/** An instance host that launches nothing: for tests whose images need no filesystem (copies, tags, prune). */
export const noInstances: InstanceHost = {
  launch: async () => ({ ip: '127.0.0.2', sshPort: 22 }),
  stop: async () => {},
  start: async () => ({ ip: '127.0.0.2', sshPort: 22 }),
  capture: async () => {},
  alias: async () => {},
  terminate: async () => {},
  deleteImage: async () => {},
  close: async () => {},
};

/**
 * The sshd_config text for one instance. Paths come from the user's state directory, so every
 * value goes through `sshdValue`: sshd splits a line into arguments like a shell (quotes and
 * backslash escapes, servconf.c → argv_split), and expands `%` tokens in ChrootDirectory and
 * AuthorizedKeysFile. Nothing else ever writes a value into the file.
 */
export interface SshdSettings {
  /** Loopback address and port sshd listens on. */
  ip: string;
  port: number;
  hostKey: string;
  /** Where the instance's root filesystem is (or a root-owned path that leads to it). */
  chrootDirectory: string;
  /** Host-side file with the instance's key pair; sshd reads it before entering the chroot. */
  authorizedKeysFile: string;
}

export function renderSshdConfig(settings: SshdSettings): string {
  if (!/^127(\.\d{1,3}){3}$/.test(settings.ip)) throw new Error(`not a loopback address: ${settings.ip}`);
  if (!Number.isInteger(settings.port) || settings.port < 1 || settings.port > 65535) throw new Error(`not a port: ${settings.port}`);
  const lines: Array<[string, string]> = [
    ['ListenAddress', `${settings.ip}:${settings.port}`],
    ['HostKey', sshdValue(settings.hostKey)],
    // The pid is known to bake as the child's pid; a pid file would be one more thing to clean up.
    ['PidFile', 'none'],
    ['ChrootDirectory', sshdValue(settings.chrootDirectory, { tokens: true })],
    ['AuthorizedKeysFile', sshdValue(settings.authorizedKeysFile, { tokens: true })],
    // sshd looks the login user up on the host, so the local cloud logs in as the host's root.
    ['PermitRootLogin', 'prohibit-password'],
    ['AuthenticationMethods', 'publickey'],
    ['PasswordAuthentication', 'no'],
    ['KbdInteractiveAuthentication', 'no'],
    // PAM would run the host's session modules (loginuid, systemd) for a login into a chroot.
    ['UsePAM', 'no'],
    // The authorized_keys file lives in bake's state dir, whose parents bake does not own.
    ['StrictModes', 'no'],
    // In-process sftp needs no binary inside the chroot (Packer and Ansible copy files over it).
    ['Subsystem', 'sftp internal-sftp'],
    ['UseDNS', 'no'],
    ['PrintMotd', 'no'],
    ['PrintLastLog', 'no'],
    ['X11Forwarding', 'no'],
    ['PermitUserEnvironment', 'no'],
  ];
  return `# Written by bake for one local-cloud instance.\n${lines.map(([key, value]) => `${key} ${value}`).join('\n')}\n`;
}

/**
 * One sshd_config argument, quoted so that sshd reads back exactly `value`. With `tokens`, `%`
 * is doubled because sshd would otherwise expand `%h`, `%u`… in it.
 */
export function sshdValue(value: string, options: { tokens?: boolean } = {}): string {
  // A line break or NUL would end the option early; sshd has no escape for them.
  if (/[\n\r\0]/.test(value)) throw new Error(`an sshd_config value cannot contain a line break: ${JSON.stringify(value)}`);
  const text = options.tokens ? value.replaceAll('%', '%%') : value;
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

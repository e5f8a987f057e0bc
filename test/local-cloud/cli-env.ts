/** The environment a test gives `bake` to reach a local cloud over HTTP: its credentials, no instance metadata, CI output. */
export function cliEnv(credentials: { accessKeyId: string; secretAccessKey: string }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    CI: 'true',
  };
}

/**
 * SecureString parameters in the local cloud: sealed with AES-256-GCM under a key of the state
 * directory (playing KMS), so the state file never holds a value in the clear. What GetParameter
 * without WithDecryption returns is the sealed form, as AWS returns the KMS ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** `iv.tag.ciphertext`, each base64. */
export function sealSecureString(value: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), data].map((part) => part.toString('base64')).join('.');
}

export function unsealSecureString(sealed: string, key: Buffer): string {
  const [iv, tag, data] = sealed.split('.').map((part) => Buffer.from(part, 'base64'));
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
}

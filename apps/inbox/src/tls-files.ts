import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A self-signed certificate for localhost / 127.0.0.1 (P-256, 30 days), made with the `openssl` CLI in a
 * temporary directory that is removed afterwards. Clients must be told to trust it (or not to verify).
 */
export async function selfSignedCertificate(hostname: string): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-inbox-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30',
      '-keyout', key, '-out', cert, '-subj', `/CN=${hostname}`,
      '-addext', `subjectAltName=DNS:${hostname},DNS:localhost,IP:127.0.0.1`,
    ]);
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } catch (e) {
    throw new Error(`--tls self-signed needs the openssl command: ${(e as Error).message}`, { cause: e });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads a users file: one `user:secret` a line (`#` comments, blank lines ignored). The secret is the password or XOAUTH2 token. */
export async function readUsersFile(path: string): Promise<Map<string, string>> {
  const users = new Map<string, string>();
  const text = await readFile(path, 'utf8');
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`${path}:${i + 1}: expected "user:secret"`);
    users.set(line.slice(0, colon), line.slice(colon + 1));
  });
  if (users.size === 0) throw new Error(`${path}: no users`);
  return users;
}

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OAuthError, oneLine } from './errors.js';

/** Where one account's token set is kept. The secret is a string (JSON); names are checked account names. */
export interface SecretStore {
  readonly kind: 'keyring' | 'file';
  get(account: string): Promise<string | undefined>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<void>;
}

/**
 * `$XDG_STATE_HOME/smtpkit/tokens/<account>.json`: mode 0600 in a 0700 directory, written to a temp file,
 * fsynced and renamed, so a crash leaves the old file or the new one, never half of one. A file that
 * group or others may read is refused, not used.
 */
export class FileSecretStore implements SecretStore {
  readonly kind = 'file';
  constructor(readonly dir: string) {}

  path(account: string): string {
    return join(this.dir, `${account}.json`);
  }

  async get(account: string): Promise<string | undefined> {
    const path = this.path(account);
    let handle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new OAuthError(`cannot read the token file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { kind: 'config', code: 'ERR_OAUTH_STORE', cause: error });
    }
    try {
      const info = await handle.stat();
      if ((info.mode & 0o077) !== 0) {
        const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
        throw new OAuthError(`refusing the token file ${path}: mode ${mode} lets other users read it; run \`chmod 600 ${path}\` if it is yours, else log in again`, { kind: 'config', code: 'ERR_OAUTH_UNSAFE_FILE' });
      }
      const uid = process.getuid?.();
      if (uid !== undefined && info.uid !== uid) {
        throw new OAuthError(`refusing the token file ${path}: it belongs to another user (uid ${info.uid})`, { kind: 'config', code: 'ERR_OAUTH_UNSAFE_FILE' });
      }
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }

  async set(account: string, secret: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const target = this.path(account);
    const temp = join(this.dir, `.${account}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(secret, 'utf8');
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    await rename(temp, target);
    // The rename is durable once the directory entry is.
    const dir = await open(this.dir, constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async delete(account: string): Promise<void> {
    await rm(this.path(account), { force: true });
  }

  /** Mode bits of the stored file (for `accounts` and tests), or undefined. */
  async mode(account: string): Promise<number | undefined> {
    return stat(this.path(account)).then((s) => s.mode & 0o777, () => undefined);
  }
}

/** The OS keyring programs smtpkit drives. */
export type KeyringBackend = 'secret-tool' | 'security';

/** Options for {@link KeyringSecretStore}. */
export interface KeyringOptions {
  backend: KeyringBackend;
  /** The program to run (default: `secret-tool` from PATH, `/usr/bin/security`). */
  command?: string;
  /** Bound on one call (default 20 s: an unlock prompt may be on screen). */
  timeoutMs?: number;
}

const SERVICE = 'smtpkit';

/**
 * The OS keyring through its command-line tool: libsecret's `secret-tool` (GNOME Keyring, KWallet) on Linux,
 * `security` on macOS. The secret travels on the program's **stdin only**, never in its argv (where `ps`
 * would show it): `secret-tool store` reads it from stdin; `security -i` reads its command from stdin,
 * with the secret hex-encoded (`-X`).
 */
export class KeyringSecretStore implements SecretStore {
  readonly kind = 'keyring';
  readonly backend: KeyringBackend;
  private readonly command: string;
  private readonly timeoutMs: number;

  constructor(options: KeyringOptions) {
    this.backend = options.backend;
    this.command = options.command ?? (options.backend === 'security' ? '/usr/bin/security' : 'secret-tool');
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  async get(account: string): Promise<string | undefined> {
    const args =
      this.backend === 'security'
        ? ['find-generic-password', '-a', account, '-s', SERVICE, '-w']
        : ['lookup', 'service', SERVICE, 'account', account];
    const result = await this.run(args, '');
    // Both tools exit non-zero (secret-tool 1, security 44) with nothing on stdout for a missing item.
    if (result.code !== 0 || result.stdout === '') return undefined;
    return result.stdout.replace(/\n$/, '');
  }

  async set(account: string, secret: string): Promise<void> {
    const result =
      this.backend === 'security'
        ? await this.run(['-i'], `add-generic-password -U -a ${account} -s ${SERVICE} -l smtpkit:${account} -X ${Buffer.from(secret, 'utf8').toString('hex')}\n`)
        : await this.run(['store', `--label=smtpkit: ${account}`, 'service', SERVICE, 'account', account], secret);
    if (result.code !== 0) throw this.failure('store', result);
  }

  async delete(account: string): Promise<void> {
    const args =
      this.backend === 'security'
        ? ['delete-generic-password', '-a', account, '-s', SERVICE]
        : ['clear', 'service', SERVICE, 'account', account];
    await this.run(args, '');
  }

  /** Stores, reads back and clears a random value: true when the keyring really works here. */
  async probe(): Promise<boolean> {
    const name = `probe-${randomBytes(4).toString('hex')}`;
    const value = randomBytes(12).toString('hex');
    try {
      await this.set(name, value);
      const back = await this.get(name);
      await this.delete(name);
      return back === value;
    } catch {
      return false;
    }
  }

  private failure(what: string, result: { code: number | null; stderr: string }): OAuthError {
    const detail = oneLine(result.stderr).slice(0, 200);
    return new OAuthError(`the keyring (${this.backend}) could not ${what} the token: exit ${result.code ?? 'signal'}${detail ? `: ${detail}` : ''}; use --store file instead`, { kind: 'config', code: 'ERR_OAUTH_KEYRING' });
  }

  private run(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: this.timeoutMs });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('error', (error: NodeJS.ErrnoException) =>
        reject(new OAuthError(`the keyring program ${this.command} cannot be run: ${error.code ?? error.message}`, { kind: 'config', code: 'ERR_OAUTH_KEYRING', cause: error })),
      );
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    });
  }
}

/** The keyring program for this platform. */
export function defaultKeyringBackend(platform: NodeJS.Platform = process.platform): KeyringBackend {
  return platform === 'darwin' ? 'security' : 'secret-tool';
}

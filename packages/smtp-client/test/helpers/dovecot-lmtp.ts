import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '@smtpkit/testkit';

const DOVECOT = '/usr/sbin/dovecot';
const NOBODY = 65534;

/** A private Dovecot LMTP server on 127.0.0.1 (RFC 2033), run in the foreground from a config written here. */
export interface DovecotLmtp {
  port: number;
  /** The messages delivered to `user` (`bob@example.net`), as stored. */
  delivered(user: string): Promise<string[]>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts Dovecot's LMTP on a free port with users `bob@example.net` and `carol@example.net`, whose Maildirs are
 * under the instance's directory. `carol`'s home cannot be created (a directory only root may write), so the
 * server accepts her at RCPT and fails her delivery after the data: one reply per recipient, mixed.
 */
export async function startDovecotLmtp(): Promise<DovecotLmtp> {
  if (!existsSync(DOVECOT) || !existsSync('/usr/lib/dovecot/lmtp')) {
    throw new Error('Dovecot LMTP is not installed: apt-get install -y --no-install-recommends dovecot-core dovecot-lmtpd');
  }
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-lmtp-'));
  await chmod(dir, 0o755);
  for (const d of ['run', 'state', 'mail', 'locked']) await mkdir(join(dir, d));
  await chown(join(dir, 'mail'), NOBODY, NOBODY);
  const port = await freePort();
  await writeFile(
    join(dir, 'users'),
    `bob@example.net:{PLAIN}x:${NOBODY}:${NOBODY}::${dir}/mail/bob::\ncarol@example.net:{PLAIN}x:${NOBODY}:${NOBODY}::${dir}/locked/carol::\n`,
  );
  await writeFile(
    join(dir, 'dovecot.conf'),
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'protocols = lmtp',
      'listen = 127.0.0.1',
      'ssl = no',
      'mail_location = maildir:~/Maildir',
      `passdb {\n  driver = passwd-file\n  args = ${dir}/users\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${dir}/users\n}`,
      `service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = ${port}\n  }\n}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  const log = () => readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, '127.0.0.1', { timeoutMs: 15_000 });
  } catch (err) {
    const text = await log();
    await stop();
    throw new Error(`Dovecot LMTP did not start on ${port}: ${(err as Error).message}\n${text}`);
  }
  return {
    port,
    async delivered(user) {
      const base = join(dir, 'mail', user.split('@')[0] as string, 'Maildir', 'new');
      const files = await readdir(base).catch(() => [] as string[]);
      return Promise.all(files.map((f) => readFile(join(base, f), 'latin1')));
    },
    log,
    stop,
  };
}

import type { E2eContext } from '../context.js';
import { PASSWORD, USER } from '../credentials.js';
import { check, checkEqual, defineCase } from '../harness.js';

const CLI = 'apps/cli/dist/cli.js';

function output(r: { code: number | null; stdout: string; stderr: string }): string {
  return `exit ${String(r.code)}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;
}

export const programCases = [
  defineCase<E2eContext>('CLI: smtpkit send over STARTTLS with AUTH PLAIN (password from the environment), -v', async (ctx) => {
    const token = ctx.token('cli-send');
    const r = await ctx.runProgram(
      CLI,
      ['send', '-s', 'localhost', '-p', String(ctx.port('starttls')), '--tls', 'starttls', '--ca', ctx.caFile, '--user', USER, '--auth', 'plain',
        '-f', 'sender@example.com', '-t', `${token}@example.com`, '--subject', token, '--body', 'sent by the CLI', '-v'],
      { env: { SMTPKIT_PASSWORD: PASSWORD } },
    );
    checkEqual(r.code, 0, `exit code\n${output(r)}`);
    check(/TLS up: TLSv1\.[23]/.test(r.stderr), `no TLS in the transcript\n${output(r)}`);
    check(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), 'the password was printed');
    const [got] = await ctx.messages(token);
    checkEqual([got?.user, got?.secure], [USER, true], 'user and TLS on the server');
  }),
  defineCase<E2eContext>('CLI: smtpkit send --tls implicit --json', async (ctx) => {
    const token = ctx.token('cli-json');
    const r = await ctx.runProgram(CLI, ['send', '-s', 'localhost', '-p', String(ctx.port('implicit')), '--tls', 'implicit', '--ca', ctx.caFile,
      '-f', 'sender@example.com', '-t', `${token}@example.com`, '--subject', token, '--body', 'json', '--json']);
    checkEqual(r.code, 0, `exit code\n${output(r)}`);
    const json = JSON.parse(r.stdout) as { accepted?: string[] };
    checkEqual(json.accepted, [`${token}@example.com`], 'accepted in --json');
    checkEqual((await ctx.messages(token)).length, 1, 'messages delivered');
  }),
  defineCase<E2eContext>('CLI: a certificate for another host is exit 78, nothing sent', async (ctx) => {
    const token = ctx.token('cli-wrong-host');
    const r = await ctx.runProgram(CLI, ['send', '-s', 'localhost', '-p', String(ctx.port('wrongHost')), '--tls', 'starttls', '--ca', ctx.caFile,
      '-f', 'sender@example.com', '-t', `${token}@example.com`, '--subject', token, '--body', 'x']);
    checkEqual(r.code, 78, `exit code\n${output(r)}`);
    checkEqual((await ctx.messages(token, 1, 300)).length, 0, 'messages delivered');
  }),
  defineCase<E2eContext>('CLI: smtpkit probe of Postfix shows CHUNKING and the certificate', async (ctx) => {
    const r = await ctx.runProgram(CLI, ['probe', '-s', 'localhost', '-p', String(ctx.port('postfix')), '--tls', 'starttls', '--ca', ctx.caFile]);
    checkEqual(r.code, 0, `exit code\n${output(r)}`);
    check(/CHUNKING/.test(r.stdout) && /smtpkit test CA/.test(r.stdout), `probe output lacks CHUNKING or the issuer\n${output(r)}`);
  }),
  defineCase<E2eContext>('the lab client (wire encoder + reply parser over node:net): silent, exit 0, delivered', async (ctx) => {
    const r = await ctx.runProgram('apps/examples/dist/lab.js', [String(ctx.port('plain')), '127.0.0.1']);
    checkEqual([r.code, r.stdout + r.stderr], [0, ''], `exit code and output\n${output(r)}`);
    const got = await ctx.messages('bob@hamburger.edu', 1);
    check(got.some((m) => m.from === 'alice@crepes.fr' && m.raw?.includes('I love computer networks!')), 'the lab message did not arrive');
  }),
  defineCase<E2eContext>(
    'the demo (`pnpm demo --once` runs dist/demo.js; here under this runtime): the inbox receives both messages, exit 0',
    async (ctx) => {
      // Port 0 for both sides of the demo inbox: this run never takes 1025 / 8025.
      const r = await ctx.runProgram('apps/examples/dist/demo.js', ['--once', '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0'], { timeoutMs: 60_000 });
      checkEqual(r.code, 0, `exit code\n${output(r)}`);
      check(
        /What the inbox received: the rich message/.test(r.stdout) && /What the inbox received: the lab message/.test(r.stdout) && /sha256 [0-9a-f]{64}/.test(r.stdout) && /demo inbox stopped/.test(r.stdout),
        `demo output incomplete\n${output(r)}`,
      );
    },
    90_000,
  ),
];

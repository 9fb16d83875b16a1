import { readFile } from 'node:fs/promises';
import { connect, type Session } from '@smtpkit/client';
import { exitCodeFor, EXIT, InputFileError, type ExitCode } from './exit-codes.js';
import { accountAuth, withAccountServer } from './account-auth.js';
import { connectOptions, describeError, errorJson, serverLabel, type ConnectionContext } from './connection.js';
import { Output, type TranscriptLine } from './output.js';
import type { ProbeFlags } from './program.js';
import { resolveConnection } from './send-options.js';

/** One EHLO reply as seen in the transcript: the server's domain line, then its keywords. */
export interface EhloSnapshot {
  domain: string;
  keywords: string[];
}

/**
 * Collect the EHLO replies of a session from its transcript: every `S:` line between a `C: EHLO`
 * and the next client line. The first is the plaintext offer, the second the offer after TLS
 * (RFC 3207 §4.2: the client must discard the first and ask again).
 */
export class EhloRecorder {
  readonly replies: string[][] = [];
  private collecting = false;

  push(e: TranscriptLine): void {
    if (e.dir === 'C') {
      this.collecting = /^(EHLO|HELO|LHLO)\b/i.test(e.text);
      if (this.collecting) this.replies.push([]);
      return;
    }
    if (e.dir === 'S' && this.collecting) {
      // One event may hold one line ("250-SIZE 1000") or a whole reply joined by escaped newlines.
      for (const line of e.text.split(/\\r\\n|\\n|\r?\n/)) {
        const m = /^(\d{3})[ -]?(.*)$/.exec(line);
        if (m) this.replies[this.replies.length - 1]!.push(m[2]!);
      }
    }
  }

  snapshot(index: number): EhloSnapshot | null {
    const lines = this.replies[index];
    if (!lines || lines.length === 0) return null;
    return { domain: (lines[0] ?? '').split(' ')[0] ?? '', keywords: lines.slice(1).filter((l) => l !== '') };
  }
}

function printSnapshot(out: Output, title: string, s: EhloSnapshot | null): void {
  if (!s) return;
  out.info(`${title} (${s.domain}):`);
  for (const k of s.keywords) out.info(`  ${k}`);
}

/** `smtpkit probe`: returns the exit code. */
export async function runProbe(flags: ProbeFlags): Promise<ExitCode> {
  let out = new Output({ quiet: flags.quiet === true, verbose: false, json: flags.json === true && !flags.quiet });
  let ctx: ConnectionContext = { host: flags.server ?? '127.0.0.1', port: Number(flags.port) || 0, tls: 'auto' };
  let session: Session | undefined;
  try {
    const cfg = await withAccountServer(resolveConnection(flags), flags);
    out = new Output(cfg.output);
    ctx = { host: cfg.host, port: cfg.port, tls: cfg.tls, ...(cfg.socket !== undefined ? { socket: cfg.socket } : {}) };
    const ca = cfg.ca !== undefined ? await readFile(cfg.ca).catch((e: unknown) => Promise.reject(new InputFileError(cfg.ca!, e))) : undefined;
    if (cfg.insecure) out.warn('smtpkit: WARNING: --insecure: the server certificate is NOT verified');
    const ehlo = new EhloRecorder();
    const options = connectOptions(cfg, {
      ca,
      ...(cfg.account ? { auth: await accountAuth({ account: cfg.account }, out) } : {}),
      onTranscript: (e) => {
        ehlo.push(e);
        out.transcript(e);
      },
    });
    session = await connect(options);
    const greeting = session.greeting;
    const tls = session.tls;
    // With implicit TLS the only EHLO is already inside TLS.
    const n = ehlo.replies.length;
    const before = tls && n === 1 ? null : ehlo.snapshot(0);
    const after = tls ? ehlo.snapshot(n - 1) : null;
    await session.quit();

    out.json({
      ok: true,
      server: cfg.socket !== undefined ? `unix:${cfg.socket}` : cfg.host,
      port: cfg.socket !== undefined ? null : cfg.port,
      protocol: cfg.protocol,
      greeting: { code: greeting.code, text: greeting.text },
      before,
      after,
      tls: tls ? { protocol: tls.protocol, cipher: tls.cipher, authorized: tls.authorized, verified: tls.verified } : null,
      certificate: tls?.peer ?? null,
    });
    out.info(`${serverLabel(cfg)}${cfg.protocol === 'lmtp' ? ' (LMTP)' : ''} ${greeting.code} ${greeting.lines[0] ?? ''}`);
    printSnapshot(out, tls && before && after ? 'before TLS' : 'capabilities', before);
    if (tls) {
      out.info(`TLS: ${tls.protocol} ${tls.cipher} (verified: ${tls.verified}${tls.authorizationError ? `, ${tls.authorizationError}` : ''})`);
      if (tls.peer) {
        out.info('certificate:');
        out.info(`  subject:  ${tls.peer.subject}`);
        out.info(`  issuer:   ${tls.peer.issuer}`);
        out.info(`  valid:    ${tls.peer.validFrom} .. ${tls.peer.validTo}`);
        out.info(`  sha256:   ${tls.peer.fingerprint256}`);
      }
      printSnapshot(out, 'after TLS', after);
    } else {
      out.info('TLS: not in use');
    }
    return EXIT.OK;
  } catch (error) {
    session?.destroy();
    const exit = exitCodeFor(error);
    out.json(errorJson(error, exit, session));
    out.warn(describeError(error, ctx));
    return exit;
  } finally {
    out.close();
  }
}

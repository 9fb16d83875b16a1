import type { FaultScript, FaultStep } from './steps.js';

/** What {@link scenarios.ehlo} advertises. */
export interface EhloOptions {
  /** The domain on the first line (default 'fault.test'). */
  domain?: string;
  pipelining?: boolean;
  starttls?: boolean;
  /** AUTH mechanisms, e.g. ['PLAIN', 'LOGIN']. */
  auth?: readonly string[];
  /** SIZE limit (0 = advertised without a limit). */
  size?: number;
  chunking?: boolean;
  eightBitMime?: boolean;
  smtputf8?: boolean;
  /** ENHANCEDSTATUSCODES (RFC 2034); default true. */
  enhancedStatusCodes?: boolean;
  /** More keyword lines, as written. */
  extra?: readonly string[];
}

/** Builds a multi-line reply: `reply(250, ['a', 'b'])` → '250-a\r\n250 b\r\n' (RFC 5321 §4.2.1). */
export function reply(code: number, lines: string | readonly string[]): string {
  const all = typeof lines === 'string' ? [lines] : lines.length === 0 ? [''] : lines;
  return all.map((line, i) => `${code}${i === all.length - 1 ? ' ' : '-'}${line}\r\n`).join('');
}

/** The EHLO reply lines for `options`. */
export function ehloLines(options: EhloOptions = {}): string[] {
  const lines = [`${options.domain ?? 'fault.test'} greets you`];
  if (options.pipelining) lines.push('PIPELINING');
  if (options.size !== undefined) lines.push(options.size > 0 ? `SIZE ${options.size}` : 'SIZE');
  if (options.starttls) lines.push('STARTTLS');
  if (options.auth && options.auth.length > 0) lines.push(`AUTH ${options.auth.join(' ')}`);
  if (options.enhancedStatusCodes ?? true) lines.push('ENHANCEDSTATUSCODES');
  if (options.eightBitMime) lines.push('8BITMIME');
  if (options.smtputf8) lines.push('SMTPUTF8');
  if (options.chunking) lines.push('CHUNKING');
  lines.push(...(options.extra ?? []));
  return lines;
}

/** Options for {@link scenarios.acceptMessage}. */
export interface AcceptMessageOptions {
  /** How many RCPT commands to accept (default 1). */
  recipients?: number;
  /** Answer MAIL, RCPT… and DATA only after reading all of them (a pipelined group, RFC 2920). */
  pipelined?: boolean;
  /** The final reply (default '250 2.0.0 Ok: queued as FAULT1'). */
  queued?: string;
}

/**
 * Ready-made pieces of scripts; spread them into an array and add the faults in between.
 *
 * @example
 * startFaultServer([...scenarios.plainGreeting(), ...scenarios.ehlo({ pipelining: true }),
 *   ...scenarios.acceptMessage({ recipients: 2, pipelined: true }), ...scenarios.quit()]);
 */
export const scenarios = {
  /** The 220 greeting (RFC 5321 §4.3.1). */
  plainGreeting(text = 'fault.test ESMTP fault-injection server'): FaultScript {
    return [{ send: `220 ${text}\r\n` }];
  },

  /** Reads EHLO and answers with the advertised extensions. */
  ehlo(options: EhloOptions = {}): FaultScript {
    return [{ expect: /^EHLO /i }, { send: reply(250, ehloLines(options)) }];
  },

  /** Reads STARTTLS and upgrades (RFC 3207), then reads the new EHLO and answers it. */
  startTls(options: { ehloAfter?: EhloOptions; injectPlaintext?: string } = {}): FaultScript {
    return [
      { expect: /^STARTTLS$/i },
      { upgradeTls: true, ...(options.injectPlaintext === undefined ? {} : { injectPlaintext: options.injectPlaintext }) },
      ...scenarios.ehlo({ ...options.ehloAfter, starttls: false }),
    ];
  },

  /** MAIL, RCPT × n, DATA, the payload, and the final 250. */
  acceptMessage(options: AcceptMessageOptions = {}): FaultScript {
    const n = options.recipients ?? 1;
    const queued = options.queued ?? '250 2.0.0 Ok: queued as FAULT1\r\n';
    const rcpts = Array.from({ length: n }, () => '250 2.1.5 Ok\r\n');
    if (options.pipelined) {
      return [
        { expect: /^MAIL FROM:/i },
        ...rcpts.map((): FaultStep => ({ expect: /^RCPT TO:/i })),
        { expect: /^DATA$/i },
        { send: '250 2.1.0 Ok\r\n' + rcpts.join('') + '354 End data with <CR><LF>.<CR><LF>\r\n' },
        { expectData: true },
        { send: queued },
      ];
    }
    return [
      { expect: /^MAIL FROM:/i },
      { send: '250 2.1.0 Ok\r\n' },
      ...rcpts.flatMap((r): FaultStep[] => [{ expect: /^RCPT TO:/i }, { send: r }]),
      { expect: /^DATA$/i },
      { send: '354 End data with <CR><LF>.<CR><LF>\r\n' },
      { expectData: true },
      { send: queued },
    ];
  },

  /** Reads QUIT, answers 221 and closes. */
  quit(): FaultScript {
    return [{ expect: /^QUIT$/i }, { send: '221 2.0.0 Bye\r\n' }, { close: true }];
  },

  /** A whole well-behaved session: greeting, EHLO, one message, QUIT. */
  happyPath(options: EhloOptions & AcceptMessageOptions = {}): FaultScript {
    return [
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo(options),
      ...scenarios.acceptMessage({ ...options, pipelined: options.pipelined ?? options.pipelining }),
      ...scenarios.quit(),
    ];
  },
};

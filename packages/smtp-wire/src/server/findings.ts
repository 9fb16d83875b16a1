/** Something a client did that the RFCs forbid or advise against, as a receiving server sees it. */
export interface Finding {
  /** Stable machine-readable code, e.g. `bare-lf-data`. */
  code: string;
  /** Where the rule comes from, e.g. `RFC 5321 §2.3.8`. */
  rfc: string;
  /** One sentence for humans. */
  text: string;
}

/** The protocol findings a {@link ServerSession} reports, with the rule each comes from. */
export const SESSION_FINDINGS = {
  'command-before-ehlo': { rfc: 'RFC 5321 §4.1.4', text: 'a mail transaction command came before EHLO or HELO' },
  'nested-mail': { rfc: 'RFC 5321 §4.1.1.2', text: 'MAIL came while a mail transaction was already open' },
  'rcpt-before-mail': { rfc: 'RFC 5321 §4.1.4', text: 'RCPT came before MAIL' },
  'data-before-rcpt': { rfc: 'RFC 5321 §4.1.4', text: 'DATA or BDAT came with no accepted recipient' },
  'unknown-command': { rfc: 'RFC 5321 §4.2.4', text: 'a command the server does not know' },
  'syntax-error': { rfc: 'RFC 5321 §4.1.2', text: 'a command argument that does not parse' },
  'space-after-colon': { rfc: 'RFC 5321 §4.1.2', text: 'a space between "FROM:" / "TO:" and the path (accepted)' },
  'bare-lf-command': { rfc: 'RFC 5321 §2.3.8', text: 'a command line ended with a bare LF instead of CRLF' },
  'bare-cr-command': { rfc: 'RFC 5321 §2.3.8', text: 'a bare CR inside a command line' },
  'command-too-long': { rfc: 'RFC 5321 §4.5.3.1.4', text: 'a command line over 512 octets' },
  'bare-lf-data': { rfc: 'RFC 5321 §2.3.8', text: 'a bare LF in the message data' },
  'bare-cr-data': { rfc: 'RFC 5321 §2.3.8', text: 'a bare CR in the message data' },
  'data-line-too-long': { rfc: 'RFC 5321 §4.5.3.1.6', text: 'a text line over 998 octets' },
  '8bit-without-8bitmime': { rfc: 'RFC 6152 §3', text: '8-bit octets in the data without BODY=8BITMIME' },
  'utf8-envelope-without-smtputf8': { rfc: 'RFC 6531 §3.4', text: 'a non-ASCII envelope address without SMTPUTF8' },
  'smuggling-end-of-data': {
    rfc: 'RFC 5321 §4.1.1.4',
    text: 'a "." line ended by a bare LF or CR (an SMTP smuggling shape); only <CRLF>.<CRLF> ends the data',
  },
  'pipelining-not-offered': { rfc: 'RFC 2920 §3.1', text: 'commands were pipelined but PIPELINING was not offered' },
  'data-before-354': { rfc: 'RFC 2920 §3.1', text: 'message data arrived before the 354 reply was sent' },
  'starttls-pipelined': { rfc: 'RFC 3207 §4.2', text: 'bytes arrived after STARTTLS before the TLS handshake (discarded)' },
  'esmtp-param-after-helo': { rfc: 'RFC 5321 §4.1.1.11', text: 'an ESMTP parameter was used after HELO' },
  'unknown-parameter': { rfc: 'RFC 5321 §4.1.1.11', text: 'a MAIL or RCPT parameter the server did not offer' },
  'size-exceeded': { rfc: 'RFC 1870 §6.3', text: 'the message is larger than the SIZE the server offered' },
  'too-many-recipients': { rfc: 'RFC 5321 §4.5.3.1.8', text: 'more recipients than the server accepts in one transaction' },
  'auth-failed': { rfc: 'RFC 4954 §6', text: 'authentication failed' },
  'auth-required': { rfc: 'RFC 4954 §6', text: 'MAIL without authentication where the server requires it' },
} as const satisfies Record<string, { rfc: string; text: string }>;

/** The code of a session finding. */
export type FindingCode = keyof typeof SESSION_FINDINGS;

/** The {@link Finding} for `code`, with an optional detail appended to its text. */
export function sessionFinding(code: FindingCode, detail?: string): Finding {
  const { rfc, text } = SESSION_FINDINGS[code];
  return { code, rfc, text: detail === undefined ? text : `${text}: ${detail}` };
}

import { join } from 'node:path';
import type { TestCertificates } from './certificates.js';

/** Options for {@link startPostfix}. */
export interface PostfixOptions {
  /** Advertise CHUNKING (RFC 3030); default true, as Postfix does. */
  chunking?: boolean;
  /** Advertise PIPELINING (RFC 2920); default true. */
  pipelining?: boolean;
  /** STARTTLS policy: 'none' (not offered, default), 'may' (offered), 'encrypt' (required before MAIL). */
  tls?: 'none' | 'may' | 'encrypt';
  /** Certificates for 'may'/'encrypt' (the server uses `key`/`cert`); required when tls is not 'none'. */
  certs?: TestCertificates;
  /** Domains whose every address is accepted and delivered (default example.com, example.net, example.org). */
  domains?: string[];
  /** Throw messages away instead of writing a Maildir (benchmarks). */
  discard?: boolean;
  /** message_size_limit in octets (Postfix default 10 240 000); also advertised as SIZE. */
  messageSizeLimit?: number;
  /**
   * Client certificates, checked against the test CA (needs `tls`): 'ask' asks for one
   * (`smtpd_tls_ask_ccert`) and accepts mail only from clients that showed a trusted one
   * (`permit_tls_all_clientcerts`, others get 554 at RCPT); 'require' also sets `smtpd_tls_req_ccert`
   * (with tls 'encrypt': no certificate, no session).
   */
  clientCertificates?: 'ask' | 'require';
  /** Extra main.cf lines, `name = value` (escape hatch for one-off tests). */
  extraMainCf?: Record<string, string>;
  /** Bound on startup (default 20 000 ms). */
  startTimeoutMs?: number;
}

/** The uid and gid of `nobody`, who owns the virtual mailboxes. */
export const NOBODY = 65534;

/** main.cf of a private instance in `dir`: virtual Maildirs for `domains`, no relaying, no DNS, no limits that slow tests. */
export function mainCf(dir: string, domains: string[], tls: 'none' | 'may' | 'encrypt', options: PostfixOptions): string {
  const discardKeywords = [
    ...(options.pipelining === false ? ['pipelining'] : []),
    ...(options.chunking === false ? ['chunking'] : []),
  ];
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: join(dir, 'queue'),
    data_directory: join(dir, 'data'),
    command_directory: '/usr/sbin',
    daemon_directory: '/usr/lib/postfix/sbin',
    shlib_directory: '/usr/lib/postfix',
    meta_directory: '/etc/postfix',
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    maillog_file: join(dir, 'postfix.log'),
    maillog_file_prefixes: dir,
    myhostname: 'localhost',
    mydomain: 'localdomain',
    myorigin: '$myhostname',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    mydestination: '',
    relayhost: '',
    relay_domains: '',
    default_transport: 'error:no relaying from the test server',
    relay_transport: 'error:no relaying from the test server',
    local_transport: 'error:no local delivery on the test server',
    smtpd_relay_restrictions: 'reject_unauth_destination',
    smtpd_recipient_restrictions: '',
    virtual_mailbox_domains: domains.join(' '),
    virtual_mailbox_base: join(dir, 'mail'),
    virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`,
    virtual_uid_maps: `static:${NOBODY}`,
    virtual_gid_maps: `static:${NOBODY}`,
    virtual_mailbox_limit: '0',
    virtual_transport: options.discard ? 'discard:' : 'virtual',
    message_size_limit: String(options.messageSizeLimit ?? 10_240_000),
    smtpd_discard_ehlo_keywords: discardKeywords.join(', '),
    smtpd_banner: '$myhostname ESMTP smtpkit test Postfix',
    biff: 'no',
    append_dot_mydomain: 'no',
    smtp_dns_support_level: 'disabled',
    smtpd_peername_lookup: 'no',
    smtpd_error_sleep_time: '0',
    smtpd_soft_error_limit: '1000',
    smtpd_hard_error_limit: '1000',
    smtpd_junk_command_limit: '100000',
    smtpd_client_connection_count_limit: '0',
    smtpd_client_connection_rate_limit: '0',
    smtpd_client_message_rate_limit: '0',
    smtpd_client_recipient_rate_limit: '0',
    smtpd_recipient_limit: '10000',
    in_flow_delay: '0',
    default_process_limit: '200',
    alias_maps: '',
    alias_database: '',
    smtputf8_enable: 'yes',
    smtpd_tls_security_level: tls === 'none' ? '' : tls,
    ...(tls === 'none'
      ? {}
      : {
          smtpd_tls_cert_file: join(dir, 'server.crt'),
          smtpd_tls_key_file: join(dir, 'server.key'),
          smtpd_tls_loglevel: '1',
        }),
    ...(options.clientCertificates && tls !== 'none'
      ? {
          smtpd_tls_ask_ccert: 'yes',
          smtpd_tls_CAfile: join(dir, 'client-ca.crt'),
          smtpd_client_restrictions: 'permit_tls_all_clientcerts, reject',
          ...(options.clientCertificates === 'require' ? { smtpd_tls_req_ccert: 'yes' } : {}),
        }
      : {}),
    ...options.extraMainCf,
  };
  return Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join('\n') + '\n';
}

/** master.cf: smtpd on 127.0.0.1:`port`, the usual services, no chroot. */
export function masterCf(port: number): string {
  return `127.0.0.1:${port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

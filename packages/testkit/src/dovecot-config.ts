import { basename, join } from 'node:path';
import type { TestCertificates } from './certificates.js';

/** One account of the private instance (a `passwd-file` line with a `{PLAIN}` password). */
export interface DovecotUser {
  /** The login name, also the LMTP recipient address, e.g. `alice@example.com`. */
  user: string;
  /** Stored as `{PLAIN}`, so PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256 all work. */
  password: string;
  /**
   * A storage quota for LMTP delivery, as Dovecot writes it (`'1K'`, `'10M'`): a message that does not fit gets
   * `452 4.2.2` for this recipient only (`quota_full_tempfail = yes`), while the others get 250.
   */
  quota?: string;
}

/** The `oauth2` passdb: tokens (XOAUTH2, OAUTHBEARER) checked by RFC 7662 introspection at a provider. */
export interface DovecotOAuth2Options {
  /** The provider's introspection endpoint, e.g. `http://127.0.0.1:PORT/token/introspection`. */
  introspectionUrl: string;
  /** Sent as `client_id` / `client_secret` in the POST body (RFC 7662 §2.1 leaves client authentication open). */
  clientId?: string;
  clientSecret?: string;
  /** The introspection field whose value must equal the SASL user name (default `sub`). */
  usernameAttribute?: string;
  /** Further `oauth2.conf` settings, `name = value` (e.g. `scope`). */
  extra?: Record<string, string>;
}

/** Options for {@link startDovecot}. At least one of `submission` and `lmtp` is needed. */
export interface DovecotOptions {
  /**
   * Run the submission service (RFC 6409), relaying every accepted message to `relayHost:relayPort`
   * (a local sink the caller started). With `certs` it offers STARTTLS and listens for implicit TLS as well.
   */
  submission?: { relayPort: number; relayHost?: string };
  /** Run LMTP (RFC 2033) on a free TCP port and on a Unix socket, delivering into a Maildir per user. */
  lmtp?: boolean;
  /** The server certificate (`certs.key`/`certs.cert`); without it there is no TLS at all. */
  certs?: TestCertificates;
  /** The accounts (default: `alice@example.com` / `alice-password` and `bob@example.com` / `bob-password`). */
  users?: DovecotUser[];
  /** Enable the `oauth2` passdb for XOAUTH2 and OAUTHBEARER (`introspection_mode = post`). */
  oauth2?: DovecotOAuth2Options;
  /** SASL mechanisms offered (default: plain login cram-md5 scram-sha-1 scram-sha-256, plus xoauth2 oauthbearer with `oauth2`). */
  mechanisms?: string[];
  /** Log every SMTP/LMTP command as parsed (`log_debug = category=smtp-server`) and auth decisions. */
  verbose?: boolean;
  /** Extra dovecot.conf text appended at the end (escape hatch for one-off tests). */
  extraConf?: string;
  /** Bound on startup (default 20 000 ms). */
  startTimeoutMs?: number;
}

const PASSWORD_MECHANISMS = ['plain', 'login', 'cram-md5', 'scram-sha-1', 'scram-sha-256'];

/** passwd-file(5) line: user:password:uid:gid:gecos:home:shell:extra fields. */
export function passwdLine(u: DovecotUser): string {
  const extra = u.quota ? `userdb_quota_rule=*:storage=${u.quota}` : '';
  return `${u.user}:{PLAIN}${u.password}::::::${extra}\n`;
}

/** oauth2.conf for the `oauth2` passdb (RFC 7662 introspection); the endpoint must be on this machine. */
export function oauth2Conf(o: DovecotOAuth2Options): string {
  const url = new URL(o.introspectionUrl);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new Error(`startDovecot: the introspection URL must be on this machine, got ${url.hostname}`);
  }
  const settings: Record<string, string> = {
    introspection_mode: 'post',
    introspection_url: o.introspectionUrl,
    username_attribute: o.usernameAttribute ?? 'sub',
    active_attribute: 'active',
    active_value: 'true',
    ...(o.clientId !== undefined ? { client_id: o.clientId } : {}),
    ...(o.clientSecret !== undefined ? { client_secret: o.clientSecret } : {}),
    ...o.extra,
  };
  return Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join('');
}

/** dovecot.conf of a private instance in `dir`: its own base_dir, state_dir, log, users and Maildirs. */
export function dovecotConf(
  dir: string,
  options: DovecotOptions,
  ports: { submission?: number; submissions?: number; lmtp?: number },
): string {
  const protocols = [...(options.submission ? ['submission'] : []), ...(options.lmtp ? ['lmtp'] : [])];
  const mechanisms = options.mechanisms ?? [...PASSWORD_MECHANISMS, ...(options.oauth2 ? ['xoauth2', 'oauthbearer'] : [])];
  const lines = [
    `protocols = ${protocols.join(' ')}`,
    'listen = 127.0.0.1',
    `base_dir = ${join(dir, 'base')}`,
    `state_dir = ${join(dir, 'state')}`,
    `log_path = ${join(dir, 'dovecot.log')}`,
    `instance_name = ${basename(dir)}`,
    'hostname = localhost',
    'login_greeting = smtpkit test Dovecot',
    'login_log_format_elements = user=<%u> method=%m rip=%r lip=%l lport=%{lport} %c session=<%{session}>',
    options.certs ? `ssl = yes\nssl_cert = <${join(dir, 'server.crt')}\nssl_key = <${join(dir, 'server.key')}` : 'ssl = no',
    `auth_mechanisms = ${mechanisms.join(' ')}`,
    'auth_failure_delay = 0',
    'disable_plaintext_auth = no',
    // Submission never opens a mailbox, but without mail_location the first AUTH fails with 451.
    `mail_location = maildir:${join(dir, 'mail')}/%u`,
    'mail_uid = nobody',
    'mail_gid = nogroup',
    'mail_plugins = quota',
    'lmtp_rcpt_check_quota = yes',
    // 452 4.2.2 (retry later) rather than 552 for a full mailbox, so one recipient fails temporarily.
    'quota_full_tempfail = yes',
    ...(options.verbose ? ['log_debug = category=smtp-server', 'auth_verbose = yes', 'auth_debug = yes'] : []),
    ...(options.submission
      ? [`submission_relay_host = ${options.submission.relayHost ?? '127.0.0.1'}`, `submission_relay_port = ${options.submission.relayPort}`]
      : []),
    ...(options.oauth2
      ? ['passdb {', '  driver = oauth2', '  mechanisms = xoauth2 oauthbearer', `  args = ${join(dir, 'oauth2.conf')}`, '}']
      : []),
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${join(dir, 'users')}`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${join(dir, 'users')}`,
    `  default_fields = uid=nobody gid=nogroup home=${join(dir, 'mail')}/%u`,
    '}',
    // Users that only sign in with a token have no passwd-file line; submission still needs a userdb answer.
    ...(options.oauth2 ? ['userdb {', '  driver = static', `  args = uid=nobody gid=nogroup home=${join(dir, 'mail')}/%u`, '}'] : []),
    'plugin {',
    '  quota = maildir:User quota',
    '}',
    ...(options.submission
      ? [
          'service submission-login {',
          `  inet_listener submission {\n    port = ${ports.submission}\n  }`,
          ...(ports.submissions ? [`  inet_listener submissions {\n    port = ${ports.submissions}\n    ssl = yes\n  }`] : []),
          '}',
        ]
      : []),
    // Without this, anvil delays every login after a failed one from 127.0.0.1 (up to 15 s).
    'service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}',
    ...(options.lmtp
      ? ['service lmtp {', `  inet_listener lmtp {\n    port = ${ports.lmtp}\n  }`, '  unix_listener lmtp {\n    mode = 0666\n  }', '}']
      : []),
    options.extraConf ?? '',
  ];
  return lines.join('\n') + '\n';
}

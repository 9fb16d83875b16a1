/** The clients measured in Node child processes. */
export type NodeClient = 'smtpkit' | 'nodemailer';

/** One measurement, run in a fresh child process so clients never share a heap or a JIT. */
export type Job =
  | {
      kind: 'send-many';
      /** 'loop': no client, the protocol-only reference of scenarios A and B (clients/loop.ts). */
      client: NodeClient | 'loop';
      port: number;
      messages: number;
      connections: number;
      size: number;
      /**
       * Each message built per send from its parts, as a user sends (smtpkit: `buildMessage`; nodemailer:
       * `sendMail` with from, to, subject and text), instead of one pre-built message sent as raw bytes.
       */
      composed?: boolean;
      /** smtpkit only: 'never' forces DATA even where CHUNKING is offered. */
      chunking?: 'auto' | 'never';
      /**
       * Messages sent first, unmeasured, in the same process and the same way (own pool or transport, then
       * closed): the measured window then shows the per-message cost once the JIT has compiled the hot path.
       */
      warmup?: number;
    }
  | { kind: 'send-attachment'; client: NodeClient; port: number; file: string }
  | { kind: 'build-only'; client: NodeClient; bytes: number };

/** What a child reports back. */
export interface JobResult {
  elapsedMs: number;
  /** User + system CPU of the measured window, microseconds. */
  cpuUs: number;
  /** Peak resident set size of the whole child process, KiB. */
  maxRssKiB: number;
  /** Messages sent, or octets produced by a build. */
  count: number;
  bytes: number;
}

/** Prefix of the one stdout line that carries the result as JSON. */
export const RESULT_MARKER = '@@bench-result ';

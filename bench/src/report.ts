import { formatNumber, formatSummary, pairedRatios, summarize, type Summary } from './stats.js';

/** Every column of the table, in order. */
export const CLIENTS = ['smtpkit', 'nodemailer', 'smtp-source'] as const;
export type ClientName = (typeof CLIENTS)[number];
export const PEERS = ['nodemailer', 'smtp-source'] as const;

/** A target on smtpkit's figures: evaluated on medians; undefined when a figure is missing. */
export interface Target {
  text: string;
  met(view: RowView): boolean | undefined;
}

/** One line of the table: a metric measured for several clients, one value per run (NaN: that run failed). */
export interface Row {
  scenario: string;
  metric: string;
  /** Per client, values indexed by run so that ratios can be paired within a run. */
  values: Partial<Record<ClientName, number[]>>;
  /**
   * Reference figure of a tool that is not a peer (coreutils base64, `node -e 0`), shown in the notes column;
   * with `against`, also its ratio to that peer, paired within runs (values indexed by run, as `values`); with
   * `perClient`, every client's ratio to it in a column of its own (the protocol-only loop of A and B).
   */
  reference?: { label: string; values: number[]; against?: ClientName; perClient?: boolean };
  targets?: Target[];
}

/** Medians and paired ratios of a row, as the targets see them. */
export interface RowView {
  summary(client: ClientName): Summary | undefined;
  ratio(peer: ClientName): Summary | undefined;
  reference(): Summary | undefined;
  /** `client`'s value ÷ the reference's, paired within runs. */
  toReference(client: ClientName): Summary | undefined;
}

export function view(row: Row): RowView {
  const smtpkit = row.values.smtpkit ?? [];
  return {
    summary: (client) => summarize(row.values[client] ?? []),
    ratio: (peer) => summarize(pairedRatios(smtpkit, row.values[peer] ?? [])),
    reference: () => summarize(row.reference?.values ?? []),
    toReference: (client) => summarize(pairedRatios(row.values[client] ?? [], row.reference?.values ?? [])),
  };
}

function verdict(row: Row): string {
  if (!row.targets?.length) return '';
  const v = view(row);
  return row.targets
    .map((t) => {
      const met = t.met(v);
      return `${t.text}: ${met === undefined ? 'n/a' : met ? 'met' : '**missed**'}`;
    })
    .join('; ');
}

/** The results as a Markdown table: medians with min–max, ratios paired within runs. */
export function markdownTable(rows: readonly Row[]): string {
  const header = [
    'Scenario',
    'Metric',
    ...CLIENTS,
    ...PEERS.map((p) => `smtpkit ÷ ${p}`),
    'Reference',
    'each ÷ reference (same run)',
    'Target (smtpkit)',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const v = view(row);
    const cells = [
      row.scenario,
      row.metric,
      ...CLIENTS.map((c) => (row.values[c] ? formatSummary(v.summary(c)) : '')),
      ...PEERS.map((p) => (row.values.smtpkit && row.values[p] ? formatSummary(v.ratio(p), '×') : '')),
      row.reference ? referenceCell(row, v) : '',
      perClientCell(row, v),
      verdict(row),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function referenceCell(row: Row, v: RowView): string {
  const ref = row.reference as NonNullable<Row['reference']>;
  const text = `${ref.label}: ${formatSummary(v.reference())}`;
  if (!ref.against || !row.values[ref.against]) return text;
  const ratio = summarize(pairedRatios(ref.values, row.values[ref.against] ?? []));
  return `${text}, ${formatSummary(ratio, '×')} ${ref.against}`;
}

/** Every client's ratio to the reference, paired within runs: "smtpkit 0.73×; nodemailer 0.18×". */
function perClientCell(row: Row, v: RowView): string {
  if (!row.reference?.perClient) return '';
  return CLIENTS.filter((c) => row.values[c])
    .map((c) => `${c} ${formatSummary(v.toReference(c), '×')}`)
    .join('; ');
}

/** A compact plain-text version for the terminal. */
export function terminalTable(rows: readonly Row[]): string {
  const header = ['scenario', 'metric', ...CLIENTS, 'vs nodemailer', 'vs smtp-source', 'smtpkit ÷ ref', 'target'];
  const body = rows.map((row) => {
    const v = view(row);
    const med = (s: Summary | undefined, suffix = ''): string => (s ? formatNumber(s.median) + suffix : '');
    return [
      row.scenario,
      row.metric,
      ...CLIENTS.map((c) => (row.values[c] ? med(v.summary(c)) || 'n/a' : '')),
      ...PEERS.map((p) => (row.values.smtpkit && row.values[p] ? med(v.ratio(p), '×') || 'n/a' : '')),
      row.reference?.perClient && row.values.smtpkit ? med(v.toReference('smtpkit'), '×') || 'n/a' : '',
      verdict(row).replaceAll('**', ''),
    ];
  });
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

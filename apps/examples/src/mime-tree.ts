/**
 * Draw the MIME part tree of a raw message (RFC 2045 / RFC 2046): enough parsing to find each
 * part's Content-Type, boundary and encoding; the contents are left to postal-mime.
 */

interface Part {
  type: string;
  encoding?: string;
  disposition?: string;
  filename?: string;
  bytes: number;
  children: Part[];
}

function splitHead(text: string): { head: Map<string, string>; body: string } {
  const end = text.search(/\r?\n\r?\n/);
  const headText = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end).replace(/^\r?\n\r?\n/, '');
  const head = new Map<string, string>();
  for (const field of headText.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = field.indexOf(':');
    if (colon > 0) {
      const name = field.slice(0, colon).trim().toLowerCase();
      if (!head.has(name)) head.set(name, field.slice(colon + 1).trim());
    }
  }
  return { head, body };
}

function param(value: string | undefined, name: string): string | undefined {
  if (!value) return undefined;
  const m = new RegExp(`;\\s*${name}\\*?=\\s*("([^"]*)"|[^;\\s]+)`, 'i').exec(value);
  return m ? (m[2] ?? m[1]) : undefined;
}

function parsePart(text: string, depth = 0): Part {
  const { head, body } = splitHead(text);
  const contentType = head.get('content-type') ?? 'text/plain';
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  const disposition = head.get('content-disposition');
  const part: Part = {
    type,
    encoding: head.get('content-transfer-encoding')?.toLowerCase(),
    disposition: disposition?.split(';')[0]?.trim().toLowerCase(),
    filename: param(disposition, 'filename') ?? param(contentType, 'name'),
    bytes: Buffer.byteLength(body, 'latin1'),
    children: [],
  };
  const boundary = param(contentType, 'boundary');
  if (type.startsWith('multipart/') && boundary && depth < 20) {
    // RFC 2046 §5.1.1: parts sit between "--boundary" lines; "--boundary--" closes.
    const delimiter = `--${boundary}`;
    const pieces = body.split(new RegExp(`(?:^|\\r?\\n)${delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    for (const piece of pieces.slice(1)) {
      if (piece.startsWith('--')) break;
      part.children.push(parsePart(piece.replace(/^[ \t]*\r?\n/, ''), depth + 1));
    }
  }
  return part;
}

function describe(p: Part): string {
  const bits = [p.encoding, p.disposition, p.filename, p.children.length ? undefined : `${p.bytes} bytes`].filter(Boolean);
  return bits.length ? `${p.type} (${bits.join(', ')})` : p.type;
}

/** The part tree as lines, `├──` style. */
export function mimeTree(raw: Uint8Array): string[] {
  const root = parsePart(Buffer.from(raw).toString('latin1'));
  const lines = [describe(root)];
  const walk = (p: Part, prefix: string) => {
    p.children.forEach((c, i) => {
      const last = i === p.children.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${describe(c)}`);
      walk(c, prefix + (last ? '    ' : '│   '));
    });
  };
  walk(root, '');
  return lines;
}

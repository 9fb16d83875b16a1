import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import * as wire from '../src/index.js';

describe('package face', () => {
  it('exports the contract names', () => {
    for (const name of [
      'SmtpError', 'isSmtpError', 'formatEnhanced', 'isPositiveCompletion', 'isPositiveIntermediate', 'isTransient',
      'isPermanent', 'encodeReply', 'ReplyParser', 'parseEhlo', 'heloCapabilities', 'encodeCommand', 'MAX_COMMAND_LINE',
      'parseMailbox', 'formatPath', 'needsSmtputf8', 'DataEncoder', 'encodeData', 'CrlfCanonicalizer', 'toChunks',
      'frameBdat', 'planTransaction', 'isTooManyRecipients', 'SevenBitDowngrade', 'ClientTransaction', 'encodeBdatChunk',
    ]) {
      expect(wire, name).toHaveProperty(name);
    }
    expect(wire.MAX_COMMAND_LINE).toBe(512);
    expect(wire.MAX_DATA_LINE).toBe(998);
  });

  it('has no default export and no internals', () => {
    expect(wire).not.toHaveProperty('default');
    expect(wire).not.toHaveProperty('assertNoControls');
    expect(wire).not.toHaveProperty('inputError');
  });

  it('runs a short exchange without any socket', () => {
    const parser = new wire.ReplyParser();
    const [greeting] = parser.push(Buffer.from('220 mx.example.com ESMTP\r\n'));
    expect(greeting?.code).toBe(220);
    const ehlo = wire.encodeCommand({ verb: 'EHLO', domain: 'client.example.com' });
    expect(Buffer.from(ehlo.bytes).toString()).toBe('EHLO client.example.com\r\n');
    const [reply] = parser.push(Buffer.from('250-mx.example.com\r\n250 PIPELINING\r\n'));
    expect(wire.parseEhlo(reply as wire.Reply).pipelining).toBe(true);
  });
});

describe('test environment', () => {
  it('refuses to open sockets in wire tests', async () => {
    const net = await import('node:net');
    expect(() => net.connect({ host: '127.0.0.1', port: 9 })).toThrow(/never open a socket/);
    expect(() => new net.Socket().connect(9, '127.0.0.1')).toThrow(/never open a socket/);
  });
});

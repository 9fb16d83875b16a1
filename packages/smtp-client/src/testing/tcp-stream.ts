import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * A plain stream over the TCP socket for TLS to run on. Wrapping the net.Socket directly
 * would hand its native handle to TLS, after which the TCP socket can no longer be reset
 * (`resetAndDestroy` under TLS crashes Node 20); through this stream the TCP socket keeps its
 * handle, so `reset()` works at any point, and no buffered byte is lost on the switch.
 */
export function tcpStream(tcp: Socket): Duplex {
  const stream = new Duplex({
    read() {
      tcp.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (tcp.destroyed) callback();
      else tcp.write(chunk, () => callback());
    },
    final(callback) {
      tcp.end();
      callback();
    },
    destroy(error, callback) {
      tcp.destroy();
      callback(error);
    },
  });
  tcp.on('data', (data: Buffer) => {
    if (!stream.push(data)) tcp.pause();
  });
  tcp.on('end', () => stream.push(null));
  tcp.on('close', () => stream.destroy());
  tcp.resume();
  return stream;
}

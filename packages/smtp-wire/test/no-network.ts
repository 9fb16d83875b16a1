// Setup for every wire test: the package is pure, so any attempt to open a socket fails the test loudly.
import net from 'node:net';
import tls from 'node:tls';

function refuse(): never {
  throw new Error('@smtpkit/wire tests must never open a socket');
}

net.Socket.prototype.connect = refuse as never;
net.connect = refuse as never;
net.createConnection = refuse as never;
net.createServer = refuse as never;
tls.connect = refuse as never;

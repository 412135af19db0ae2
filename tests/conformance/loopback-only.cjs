// Preloaded (node --require) into the conformance suite: its mock servers call listen() without a host, which binds every
// interface. This keeps each of them on 127.0.0.1, so a test run opens nothing to the network. It replaces the address
// where net binds (Server.prototype._listen2), not the listen() arguments: a host given to listen() makes the bind wait
// for a DNS lookup, and the suite reads address() right after listen() returns.
'use strict';
const net = require('node:net');
const bind = net.Server.prototype._listen2;
const anyAddress = new Set([null, undefined, '', '0.0.0.0', '::']);

net.Server.prototype._listen2 = function (address, port, addressType, ...rest) {
  const loopback = typeof port === 'number' && port >= 0 && anyAddress.has(address);
  return bind.call(this, loopback ? '127.0.0.1' : address, port, loopback ? 4 : addressType, ...rest);
};

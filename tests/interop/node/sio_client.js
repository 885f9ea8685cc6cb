#!/usr/bin/env node
'use strict';
/*
 * A fixed Socket.IO scenario for tests/interop/test_socketio.py, run with the
 * official socket.io-client 4.x against a python-socketio server on
 * engineio_sync:
 *
 *   node tests/interop/node/sio_client.js URL '<json client options>'
 *
 * Two clients A and B connect; A emits with an ack, sends binary both ways,
 * both join a room, A broadcasts to it, the server calls A with an ack, A
 * disconnects, and B asks to be disconnected by the server. Every
 * observation is one JSON line on stdout ({"event": ...}); the script ends
 * with {"event": "done"} (exit 0) or {"event": "fail", "reason": ...} (exit 1).
 * A hard timeout of 15 s applies.
 */

const { io } = require('socket.io-client');

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || '{}');

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function finish(code, reason) {
  if (reason) emit({ event: 'fail', reason: String(reason) });
  else emit({ event: 'done' });
  process.exit(code);
}

setTimeout(() => finish(1, 'hard timeout'), 15000);

function bytes(data) {
  return Array.from(Buffer.isBuffer(data) ? data : Buffer.from(data));
}

function once(socket, name, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout waiting for ' + name)), ms);
    socket.once(name, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

function ack(socket, ...args) {
  return socket.timeout(5000).emitWithAck(...args);
}

async function main() {
  const opts = Object.assign({ forceNew: true, reconnection: false }, options);
  const a = io(url, Object.assign({ auth: { name: 'A' } }, opts));
  const b = io(url, Object.assign({ auth: { name: 'B' } }, opts));
  a.on('connect_error', (err) => emit({ event: 'connect_error', client: 'A', message: err.message }));
  b.on('connect_error', (err) => emit({ event: 'connect_error', client: 'B', message: err.message }));
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  emit({ event: 'connect', a: a.id, b: b.id,
         transport: a.io.engine.transport.name });

  // The server greets each client from its connect handler.
  a.on('welcome', (msg) => emit({ event: 'welcome', client: 'A', data: msg }));

  const echoed = await ack(a, 'echo', 'hello', { n: 1, s: 'é€😀' });
  emit({ event: 'echo_ack', data: echoed });

  const binReply = once(a, 'bin_reply');
  const reversed = await ack(a, 'bin', Buffer.from([1, 2, 3, 250]));
  emit({ event: 'bin_ack', data: bytes(reversed) });
  const [pushed] = await binReply;
  emit({ event: 'bin_reply', data: bytes(pushed.payload), label: pushed.label });

  await ack(a, 'join', 'room1');
  await ack(b, 'join', 'room1');
  const gotA = once(a, 'shouted');
  const gotB = once(b, 'shouted');
  a.emit('shout', { room: 'room1', text: 'hi room' });
  emit({ event: 'shouted', a: (await gotA)[0], b: (await gotB)[0] });

  // The server asks A a question and waits for A's ack.
  a.on('question', (q, callback) => callback('answer to ' + q));
  const told = once(a, 'told');
  a.emit('ask_me', 'q1');
  emit({ event: 'told', data: (await told)[0] });

  emit({ event: 'transport', a: a.io.engine.transport.name });

  const aGone = once(a, 'disconnect');
  a.disconnect();
  emit({ event: 'a_disconnect', reason: (await aGone)[0] });

  const bGone = once(b, 'disconnect');
  b.emit('kick_me');
  emit({ event: 'b_disconnect', reason: (await bGone)[0] });
  // Let the last packets leave before exiting.
  setTimeout(() => finish(0), 200);
}

main().catch((err) => finish(1, err && err.stack ? err.stack : err));

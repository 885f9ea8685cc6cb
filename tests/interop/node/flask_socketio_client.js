#!/usr/bin/env node
'use strict';
/*
 * socket.io-client 4.x against tests/interop/flask_socketio_app.py (a
 * Flask-SocketIO app on engineio_sync), for test_flask_socketio.py:
 *
 *   node flask_socketio_client.js URL scenario '<json client options>'
 *   node flask_socketio_client.js URL hold '<json client options>'
 *   node flask_socketio_client.js URL listen '<json client options>'
 *
 * "scenario": clients A and B connect (an "intruder" is refused); A emits
 * with acks (echo, an error turned into an ack by on_error), sends binary
 * both ways and talks to the /chat namespace; both join a room, B leaves
 * it, A shouts to it; A disconnects itself and B asks the server to
 * disconnect it. "hold": one client connects and waits until the server
 * disconnects it. "listen": one client connects and waits for a "notice".
 * One JSON line per observation on stdout; the last is {"event": "done"}
 * (exit 0) or {"event": "fail", "reason": ...} (exit 1).
 * A hard timeout of 20 s applies.
 */

const { io } = require('socket.io-client');

const [url, mode = 'scenario', optionsJson = '{}'] = process.argv.slice(2);
const options = JSON.parse(optionsJson);

const report = (event, fields = {}) =>
  console.log(JSON.stringify(Object.assign({ event }, fields)));

function end(failure) {
  report(failure ? 'fail' : 'done', failure ? { reason: String(failure) } : {});
  process.exit(failure ? 1 : 0);
}

setTimeout(() => end('hard timeout'), 20000);

// The next `name` event of `emitter` (its arguments), or a rejection.
function next(emitter, name, ms = 5000) {
  let timer;
  const expired = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms`)), ms);
  });
  const arrived = new Promise((resolve) => emitter.once(name, (...args) => resolve(args)));
  return Promise.race([arrived, expired]).finally(() => clearTimeout(timer));
}

const ack = (socket, ...args) => socket.timeout(5000).emitWithAck(...args);
const byteList = (data) => Array.from(Buffer.from(data));

function client(name, path = '') {
  const socket = io(url + path, Object.assign(
    { forceNew: true, reconnection: false, auth: { name } }, options));
  // The manager opens its engine later, so this sees the first transport.
  socket.io.once('open', () => { socket.firstTransport = socket.io.engine.transport.name; });
  socket.on('connect_error', (err) => report('connect_error', { client: name, message: err.message }));
  return socket;
}

async function scenario() {
  const a = client('A');
  const b = client('B');
  await Promise.all([next(a, 'connect'), next(b, 'connect')]);
  report('connect', { a: a.id, b: b.id, transport: a.firstTransport });

  const intruder = client('intruder');
  const [refused] = await next(intruder, 'connect_error');
  report('refused', { message: refused.message });
  intruder.close();

  report('echo_ack', { data: await ack(a, 'echo', 'hello', { n: 1, s: 'é€😀' }) });
  report('boom_ack', { data: await ack(a, 'boom', 7) });

  const binReply = next(a, 'bin_reply');
  const reversed = await ack(a, 'bin', Buffer.from([1, 2, 3, 250]));
  report('bin_ack', { data: byteList(reversed) });
  const [pushed] = await binReply;
  report('bin_reply', { data: byteList(pushed.payload), label: pushed.label });

  const chat = a.io.socket('/chat', { auth: { name: 'A' } });
  await next(chat, 'connect');
  report('chat_ack', { data: await ack(chat, 'hello', 'there') });
  chat.disconnect();

  await ack(a, 'join', 'r1');
  await ack(b, 'join', 'r1');
  await ack(b, 'leave', 'r1');
  const heard = { A: [], B: [] };
  a.on('shouted', (text) => heard.A.push(text));
  b.on('shouted', (text) => heard.B.push(text));
  const fences = Promise.all([next(a, 'fence'), next(b, 'fence')]);
  a.emit('shout', { room: 'r1', text: 'hi room' });
  await fences;
  report('room', { heard });

  if (!options.transports && a.io.engine.transport.name !== 'websocket') {
    await next(a.io.engine, 'upgrade');
  }
  report('transport', { a: a.io.engine.transport.name });

  const aGone = next(a, 'disconnect');
  a.disconnect();
  report('a_disconnect', { reason: (await aGone)[0] });

  const bGone = next(b, 'disconnect');
  b.emit('kick_me');
  report('b_disconnect', { reason: (await bGone)[0] });
  // Let the last packets leave before exiting.
  setTimeout(() => end(), 200);
}

async function hold() {
  const c = client('holder');
  await next(c, 'connect');
  report('connect', { sid: c.id });
  const [reason] = await next(c, 'disconnect', 15000);
  report('disconnect', { reason });
  end();
}

async function listen() {
  const c = client('listener');
  await next(c, 'connect');
  report('connect', { sid: c.id });
  const [text] = await next(c, 'notice', 10000);
  report('notice', { data: text });
  c.disconnect();
  setTimeout(() => end(), 100);
}

({ hold, listen, scenario })[mode]()
  .catch((err) => end((err && err.stack) || err));

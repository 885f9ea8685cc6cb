#!/usr/bin/env node
'use strict';
/*
 * The Socket.IO Admin UI's side of the wire, for tests/interop/test_admin_ui.py:
 * an npm socket.io-client on the admin namespace that records what the
 * server reports, while ordinary clients come and go.
 *
 *   node tests/interop/node/admin_client.js URL MODE '<json auth>'
 *
 * MODE "scenario": client P (WebSocket only) connects and joins room "early";
 * the admin connects (WebSocket only) and gets config and all_sockets;
 * client A (polling, then upgrade) and client B (polling only) connect, both
 * join "r1", B leaves it, A shouts to "r1", B says hello; the stats of that
 * moment are taken ("settled"); the admin makes every socket of "/" join
 * "from-admin"; A disconnects, the server disconnects B; the stats of that
 * moment are taken ("end").
 * MODE "auth": the admin connects with the auth given, then with a wrong one.
 * MODE "production": the admin connects; client C (polling, then upgrade)
 * connects and says hello; the stats of that moment are taken ("settled").
 *
 * Every admin event is one JSON line {"event": "admin", "name", "args",
 * "phase", "t"} (t: ms since start); {"event": "ids", ...} gives the clients'
 * ids; the script ends with {"event": "done"} (exit 0) or {"event": "fail",
 * "reason"} (exit 1). A hard timeout of 15 s applies.
 */

const { io } = require('socket.io-client');

const url = process.argv[2];
const mode = process.argv[3];
const auth = JSON.parse(process.argv[4] || 'null');
const started = Date.now();

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function finish(code, reason) {
  if (reason) out({ event: 'fail', reason: String(reason) });
  else out({ event: 'done' });
  process.exit(code);
}

setTimeout(() => finish(1, 'hard timeout'), 15000);

const ADMIN_EVENTS = ['config', 'all_sockets', 'server_stats', 'socket_connected',
  'socket_updated', 'socket_disconnected', 'room_joined', 'room_left',
  'event_received', 'event_sent'];

// Every admin event so far, and waiters for the ones still to come.
const seen = [];
let waiters = [];
let phase = 'start';

function record(name, args) {
  const entry = { name, args, phase, t: Date.now() - started };
  seen.push(entry);
  out(Object.assign({ event: 'admin' }, entry));
  waiters = waiters.filter((w) => !w(entry));
}

// Resolves with the first admin event (from index `from` of `seen` on) for
// which test(entry) is true.
function adminEvent(test, what, from = 0, ms = 5000) {
  const found = seen.slice(from).find(test);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout waiting for ' + what)), ms);
    waiters.push((entry) => {
      if (!test(entry)) return false;
      clearTimeout(timer);
      resolve(entry);
      return true;
    });
  });
}

// The count-th server_stats received from now on: the first may have been
// computed before what came just now.
async function statsAfter(count) {
  const from = seen.length;
  let last = null;
  for (let i = 0; i < count; i++) {
    const at = last ? seen.indexOf(last) + 1 : from;
    last = await adminEvent((e) => e.name === 'server_stats', 'server_stats', at);
  }
  return last;
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

const OPTS = { forceNew: true, reconnection: false };

function connectAdmin(credentials) {
  const admin = io(url + '/admin', Object.assign({ transports: ['websocket'] }, OPTS,
    credentials === null ? {} : { auth: credentials }));
  for (const name of ADMIN_EVENTS) {
    admin.on(name, (...args) => record(name, args));
  }
  return admin;
}

async function upgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name !== 'websocket') await once(engine, 'upgrade');
}

async function scenario() {
  const p = io(url, Object.assign({ transports: ['websocket'] }, OPTS));
  await once(p, 'connect');
  await ack(p, 'join', 'early');

  const admin = connectAdmin(auth);
  await once(admin, 'connect');
  await adminEvent((e) => e.name === 'config', 'config');
  await adminEvent((e) => e.name === 'all_sockets', 'all_sockets');

  phase = 'clients';
  const a = io(url, OPTS);
  const b = io(url, Object.assign({ transports: ['polling'] }, OPTS));
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  const aConnected = Date.now() - started;
  const aFirstTransport = a.io.engine.transport.name;
  await upgraded(a);
  out({ event: 'ids', p: p.id, a: a.id, b: b.id, p_eio: p.io.engine.id,
        a_eio: a.io.engine.id, b_eio: b.io.engine.id, admin: admin.id,
        a_connected: aConnected, a_first_transport: aFirstTransport,
        a_upgraded: Date.now() - started });

  await ack(a, 'join', 'r1');
  await ack(b, 'join', 'r1');
  await ack(b, 'leave', 'r1');
  const shouted = once(a, 'shouted');
  a.emit('shout', { room: 'r1', text: 'hi r1' });
  await shouted;
  await ack(b, 'hello', 'from B');
  phase = 'settled';
  await statsAfter(2);

  phase = 'admin_join';
  const from = seen.length;
  admin.emit('join', '/', 'from-admin');
  for (const id of [p.id, a.id, b.id]) {
    await adminEvent((e) => e.name === 'room_joined' && e.args[1] === 'from-admin'
      && e.args[2] === id, 'room_joined from-admin ' + id, from);
  }

  // A ping re-reports A's details (on the WebSocket by now).
  const firstReport = seen.findIndex((e) => e.name === 'socket_connected'
    && e.args[0].id === a.id);
  await adminEvent((e) => e.name === 'socket_connected' && e.args[0].id === a.id
    && e.args[0].transport === 'websocket', 'socket_connected again for A',
  firstReport + 1);

  phase = 'leaving';
  const leaving = [a.id, b.id];   // a socket forgets its id on disconnect
  a.disconnect();
  b.emit('kick_me');
  await once(b, 'disconnect');
  // python-socketio reports the disconnect first and then each room the
  // socket leaves, "from-admin" (the newest room of "/") last; a frame may
  // come in a later read than the one before it, so wait for that last one.
  for (const id of leaving) {
    await adminEvent((e) => e.name === 'socket_disconnected' && e.args[1] === id,
      'socket_disconnected ' + id);
    await adminEvent((e) => e.name === 'room_left' && e.args[1] === 'from-admin'
      && e.args[2] === id, 'room_left from-admin ' + id);
  }
  phase = 'end';
  await statsAfter(2);
  p.disconnect();
  admin.disconnect();
}

async function authCheck() {
  const good = connectAdmin(auth);
  await once(good, 'connect');
  await adminEvent((e) => e.name === 'config', 'config');
  out({ event: 'auth', credentials: 'good', connected: true });
  good.disconnect();

  const bad = connectAdmin({ username: 'admin', password: 'wrong' });
  const [err] = await once(bad, 'connect_error');
  out({ event: 'auth', credentials: 'bad', connected: false, message: err.message });
  bad.close();
}

async function production() {
  const admin = connectAdmin(auth);
  await once(admin, 'connect');
  await adminEvent((e) => e.name === 'config', 'config');
  phase = 'clients';
  const c = io(url, OPTS);
  await once(c, 'connect');
  await upgraded(c);
  await ack(c, 'hello', 'from C');
  phase = 'settled';
  await statsAfter(2);
  c.disconnect();
  admin.disconnect();
}

({ auth: authCheck, production }[mode] || scenario)()
  // Let the last packets leave before exiting.
  .then(() => setTimeout(() => finish(0), 100))
  .catch((err) => finish(1, err && err.stack ? err.stack : err));

#!/usr/bin/env node
'use strict';
/*
 * socket.io-client 4.x against examples/flask_socketio/app.py (the room
 * chat), for test_flask_socketio.py's gunicorn tests:
 *
 *   node flask_socketio_chat.js URL ROUNDS
 *
 * Two clients, one that starts on polling and upgrades and one on
 * WebSocket only, join the room "r"; each sends ROUNDS numbered chat
 * lines with an ack. Every client must get every line, from both, in
 * each sender's order. One JSON line per observation on stdout; the last
 * is {"event": "done", ...} (exit 0) or {"event": "fail", "reason": ...}
 * (exit 1). A hard timeout of 20 s applies.
 */

const { io } = require('socket.io-client');

const [url, roundsText = '20'] = process.argv.slice(2);
const rounds = Number(roundsText);

const report = (event, fields = {}) =>
  console.log(JSON.stringify(Object.assign({ event }, fields)));

function end(failure, fields = {}) {
  report(failure ? 'fail' : 'done',
         failure ? { reason: String(failure) } : fields);
  process.exit(failure ? 1 : 0);
}

setTimeout(() => end('hard timeout'), 20000);

function connect(name, transports) {
  const socket = io(url, { transports, forceNew: true, reconnection: false });
  socket.heard = [];
  socket.on('chat', (msg) => socket.heard.push(`${msg.name}:${msg.text}`));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.emit('join', { name, room: 'r' }, (room) => {
        if (room !== 'r') reject(new Error(`joined ${room}`));
        else resolve(socket);
      });
    });
    socket.once('connect_error', reject);
  });
}

async function main() {
  const upgrading = await connect('up', ['polling', 'websocket']);
  const wsOnly = await connect('ws', ['websocket']);
  const acks = [];
  for (let i = 0; i < rounds; i++) {
    for (const socket of [upgrading, wsOnly]) {
      acks.push(new Promise((resolve) => socket.emit('chat', `m${i}`, resolve)));
    }
  }
  const answers = await Promise.all(acks);
  if (answers.some((a) => a !== 'delivered')) throw new Error(`acks ${answers}`);
  const want = 2 * rounds;
  for (let n = 0; n < 100; n++) {
    if (upgrading.heard.length >= want && wsOnly.heard.length >= want) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const result = {};
  for (const [name, socket] of [['up', upgrading], ['ws', wsOnly]]) {
    result[name] = {
      transport: socket.io.engine.transport.name,
      fromUp: socket.heard.filter((h) => h.startsWith('up:')),
      fromWs: socket.heard.filter((h) => h.startsWith('ws:')),
    };
    socket.disconnect();
  }
  end(null, result);
}

main().catch((err) => end(err));

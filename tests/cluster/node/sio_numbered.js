// Socket.IO on the cluster: N socket.io-client clients each emit M
// numbered "num" events and expect the answers "k@pid" once, in order,
// all from one process; then one client emits "shout" and every client
// must receive it (a broadcast through python-socketio's RedisManager).
// Prints one JSON summary line.
// Usage: node sio_numbered.js URL N M TRANSPORTS(comma-separated)
'use strict';
const path = require('path');
const { io } = require(path.join(process.cwd(), 'node_modules', 'socket.io-client'));

const [url, nArg, mArg, transportsArg] = process.argv.slice(2);
const N = Math.min(parseInt(nArg, 10), 1000);
const M = Math.min(parseInt(mArg, 10), 1000);
const transports = transportsArg.split(',');
const hardStop = setTimeout(() => {
  console.log(JSON.stringify({ error: 'hard timeout', ...stats() }));
  process.exit(2);
}, 90000);

const results = [];

function client(i) {
  return new Promise((resolve) => {
    const result = { ok: false, got: 0, pids: new Set(), error: null, shouted: 0, socket: null };
    results.push(result);
    const socket = io(url, { transports, reconnection: false, forceNew: true });
    result.socket = socket;
    const timer = setTimeout(() => finish('timeout after ' + result.got), 60000);
    function finish(error) {
      if (result.done) return;
      result.done = true;
      clearTimeout(timer);
      result.error = error;
      result.ok = !error;
      resolve();
    }
    socket.on('connect', () => {
      for (let k = 0; k < M; k++) socket.emit('num', k);
    });
    socket.on('num', (data) => {
      const [k, pid] = String(data).split('@');
      if (k !== String(result.got) || !pid) return finish('unexpected ' + data + ' at ' + result.got);
      result.pids.add(pid);
      result.got++;
      if (result.got === M) finish(result.pids.size === 1 ? null : 'answers from several processes');
    });
    socket.on('shout', () => { result.shouted++; });
    socket.on('connect_error', (err) => finish('connect error: ' + err.message));
    socket.on('disconnect', (reason) => finish('disconnected: ' + reason));
  });
}

function stats() {
  const failures = results.filter((r) => !r.ok).map((r) => r.error);
  return {
    clients: results.length,
    ok: results.filter((r) => r.ok).length,
    shouted: results.filter((r) => r.shouted === 1).length,
    failures: failures.slice(0, 5),
  };
}

(async () => {
  const all = [];
  for (let i = 0; i < N; i++) all.push(client(i));
  await Promise.all(all);
  if (results[0].socket.connected) results[0].socket.emit('shout', 'to everyone');
  const deadline = Date.now() + 10000;
  while (results.some((r) => r.ok && r.shouted === 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 200));  // a second copy would show
  for (const r of results) r.socket.close();
  await new Promise((r) => setTimeout(r, 500));  // let the closes go out
  clearTimeout(hardStop);
  console.log(JSON.stringify(stats()));
  process.exit(0);
})();

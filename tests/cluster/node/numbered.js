// Open N engine.io-client sessions; each sends M numbered messages and
// expects their echoes "k@pid" once, in order, all from one process
// (with UPGRADE: half of them after the upgrade to WebSocket).
// Prints one JSON summary line.
// Usage: node numbered.js URL N M TRANSPORTS(comma-separated) [UPGRADE]
'use strict';
const path = require('path');
const { Socket } = require(path.join(process.cwd(), 'node_modules', 'engine.io-client'));

const [url, nArg, mArg, transportsArg, upgradeArg] = process.argv.slice(2);
const N = Math.min(parseInt(nArg, 10), 1000);
const M = Math.min(parseInt(mArg, 10), 1000);
const transports = transportsArg.split(',');
const upgrade = upgradeArg === 'upgrade';
const hardStop = setTimeout(() => {
  console.log(JSON.stringify({ error: 'hard timeout', ...stats() }));
  process.exit(2);
}, 90000);

const results = [];

function session(i) {
  return new Promise((resolve) => {
    const result = { ok: false, got: 0, pids: new Set(), error: null, upgraded: false };
    results.push(result);
    const socket = new Socket(url, { transports, upgrade });
    const timer = setTimeout(() => finish('timeout after ' + result.got), 60000);
    function finish(error) {
      if (result.done) return;
      result.done = true;
      clearTimeout(timer);
      result.error = error;
      result.ok = !error;
      socket.close();
      resolve();
    }
    // Upgrading clients send half before the upgrade and half after it,
    // so the messages straddle it.
    const first = upgrade ? Math.floor(M / 2) : M;
    socket.on('open', () => {
      for (let k = 0; k < first; k++) socket.send(String(k));
    });
    socket.on('upgrade', () => {
      result.upgraded = true;
      for (let k = first; k < M; k++) socket.send(String(k));
    });
    socket.on('message', (data) => {
      const [k, pid] = String(data).split('@');
      if (k !== String(result.got) || !pid) return finish('unexpected ' + data + ' at ' + result.got);
      result.pids.add(pid);
      result.got++;
      if (result.got === M) finish(result.pids.size === 1 ? null : 'echoes from several processes');
    });
    socket.on('close', (reason, description) => finish('closed: ' + reason));
    socket.on('error', (err) => finish('error: ' + err));
  });
}

function stats() {
  const failures = results.filter((r) => !r.ok).map((r) => r.error);
  const owners = new Set();
  for (const r of results) for (const pid of r.pids) owners.add(pid);
  return {
    sessions: results.length,
    ok: results.filter((r) => r.ok).length,
    upgraded: results.filter((r) => r.upgraded).length,
    owners: owners.size,
    failures: failures.slice(0, 5),
  };
}

(async () => {
  const all = [];
  for (let i = 0; i < N; i++) all.push(session(i));
  await Promise.all(all);
  // Let the clients' close packets go out before exiting.
  await new Promise((r) => setTimeout(r, 500));
  clearTimeout(hardStop);
  console.log(JSON.stringify(stats()));
  process.exit(0);
})();

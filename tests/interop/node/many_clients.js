// Open N raw Engine.IO v4 WebSocket sessions, answer every ping, then echo
// one message on each. Prints one JSON summary line.
// Usage: node many_clients.js URL N HOLD_MS
'use strict';
const WebSocket = require('ws');

const [url, nArg, holdArg] = process.argv.slice(2);
const N = Math.min(parseInt(nArg, 10), 10000);
const HOLD = Math.min(parseInt(holdArg, 10), 60000);
const hardStop = setTimeout(() => { console.log(JSON.stringify({ error: 'hard timeout' })); process.exit(2); }, HOLD + 60000);

const stats = { opened: 0, pinged: 0, echoed: 0, closed_early: 0, errors: 0 };
const sockets = [];

function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url + '/engine.io/?EIO=4&transport=websocket', { perMessageDeflate: false });
    const state = { pings: 0, echoed: false, done: false, onEcho: null };
    ws.on('message', (data) => {
      const text = data.toString();
      if (text[0] === '0') { stats.opened++; resolve(); }
      else if (text === '2') { state.pings++; ws.send('3'); }
      else if (text === '4echo' + i && state.onEcho) { state.echoed = true; state.onEcho(); }
    });
    ws.on('close', () => { if (!state.done) stats.closed_early++; resolve(); });
    ws.on('error', () => { stats.errors++; resolve(); });
    sockets.push({ ws, state, i });
  });
}

(async () => {
  for (let i = 0; i < N; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 100); j++) batch.push(open(j));
    await Promise.all(batch);
  }
  await new Promise((r) => setTimeout(r, HOLD));
  stats.pinged = sockets.filter((s) => s.state.pings > 0).length;
  for (let i = 0; i < sockets.length; i += 100) {
    await Promise.all(sockets.slice(i, i + 100).map(({ ws, state, i: k }) => new Promise((resolve) => {
      const timer = setTimeout(resolve, 10000);
      state.onEcho = () => { clearTimeout(timer); resolve(); };
      if (ws.readyState === WebSocket.OPEN) ws.send('4echo' + k); else { clearTimeout(timer); resolve(); }
    })));
  }
  stats.echoed = sockets.filter((s) => s.state.echoed).length;
  for (const { ws, state } of sockets) { state.done = true; ws.terminate(); }
  clearTimeout(hardStop);
  console.log(JSON.stringify(stats));
  process.exit(0);
})();

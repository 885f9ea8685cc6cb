// One engine.io-client session that polls one server and opens its
// WebSocket on another (transportOptions): it sends echo:0 .. echo:M/2-1
// on open, the rest once upgraded, and collects the echoes. Prints one JSON
// line: sid, upgraded, the echoes, an error or null.
// Usage: node moved.js POLL_PORT WEBSOCKET_PORT M
'use strict';
const path = require('path');
const { Socket } = require(path.join(process.cwd(), 'node_modules', 'engine.io-client'));

const [pollPort, wsPort, mArg] = process.argv.slice(2);
const M = Math.min(parseInt(mArg, 10), 1000);
const half = Math.floor(M / 2);
const got = [];
let upgraded = false;
let finished = false;
const socket = new Socket(`http://127.0.0.1:${pollPort}`, {
  transports: ['polling', 'websocket'],
  transportOptions: { websocket: { port: wsPort } },
});
const hardStop = setTimeout(() => finish('timeout after ' + got.length), 20000);

function finish(error) {
  if (finished) return;
  finished = true;
  clearTimeout(hardStop);
  console.log(JSON.stringify({ sid: socket.id, upgraded, got, error }));
  socket.close();
  // Let the close go out before exiting.
  setTimeout(() => process.exit(0), 300);
}

socket.on('open', () => {
  for (let k = 0; k < half; k++) socket.send('echo:' + k);
});
socket.on('upgrade', () => {
  upgraded = true;
  for (let k = half; k < M; k++) socket.send('echo:' + k);
});
socket.on('message', (data) => {
  got.push(String(data));
  if (got.length === M) finish(null);
});
socket.on('close', (reason) => finish('closed: ' + reason));
socket.on('error', (err) => finish('error: ' + err));

// Park N long-poll GETs on a server: handshake, then a GET that waits.
// Prints {"parked": N} once every GET is waiting, then holds them until
// killed (at most HOLD_MS). Usage: node parked.js PORT N HOLD_MS
'use strict';
const http = require('http');

const [portArg, nArg, holdArg] = process.argv.slice(2);
const PORT = parseInt(portArg, 10);
const N = Math.min(parseInt(nArg, 10), 10000);
const HOLD = Math.min(parseInt(holdArg, 10), 120000);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
setTimeout(() => process.exit(0), HOLD + 60000);

function get(path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: PORT, path, agent }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

(async () => {
  let parked = 0;
  for (let i = 0; i < N; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 100); j++) {
      batch.push(get('/engine.io/?EIO=4&transport=polling').then((body) => {
        const sid = JSON.parse(body.split('\x1e')[0].slice(1)).sid;
        get('/engine.io/?EIO=4&transport=polling&sid=' + sid).catch(() => {});
        parked++;
      }));
    }
    await Promise.all(batch);
  }
  await new Promise((r) => setTimeout(r, 1000));
  console.log(JSON.stringify({ parked }));
  setTimeout(() => process.exit(0), HOLD);
})();

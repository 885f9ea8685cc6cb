#!/usr/bin/env node
'use strict';
/*
 * Scripted Engine.IO client for the engineio_sync interop tests.
 *
 *   node tests/interop/node/eio_client.js '<json spec>'
 *   node tests/interop/node/eio_client.js - < spec.json
 *
 * Spec:
 *   {"url": "http://127.0.0.1:PORT",
 *    "client": "v6" | "v3",            (default "v6")
 *    "options": {...},                 (passed to the client constructor)
 *    "timeout_ms": 10000,              (overall budget for all steps)
 *    "steps": [...]}
 *
 * Steps (run in order):
 *   {"wait": "open" | "upgrade" | "close"}   the event has happened (now or earlier)
 *   {"wait": "ping" | "pong", "new": false}  one more ping/pong than already waited
 *                                            for; with "new": true one received
 *                                            after this step starts
 *   {"send": "text"}                         send a text message
 *   {"send_binary": [1, 2, 3]}               send a binary message (Buffer)
 *   {"send_n": 100, "prefix": "m"}           send "m0" .. "m99" (add "interval_ms": 2 to pace them)
 *   {"expect": "message", "data": "text"}    next received message is this text
 *   {"expect": "message", "binary": [1, 2]}  next received message is these bytes
 *   {"expect": "message", "binary_len": N, "sha1": "hex"}  (either key optional)
 *   {"expect": "message"}                    next received message, any content
 *   {"expect_n": 100, "prefix": "m"}         next 100 messages are "m0" .. "m99"
 *   {"close": true}                          close the client
 *   {"sleep_ms": 300}                        sleep (must fit in the remaining budget)
 *
 * Output: one JSON line per event on stdout:
 *   {"event":"open","sid":...,"transport":"polling"}
 *   {"event":"message","data":"..."}
 *   {"event":"message","binary":[...]}                 (binary of <= 64 bytes)
 *   {"event":"message","binary_len":N,"sha1":"..."}    (longer binary)
 *   {"event":"upgrade","transport":"websocket"}
 *   {"event":"ping"} / {"event":"pong"}
 *   {"event":"close","reason":...,"description":...}  (description: string or null)
 *   {"event":"error","message":...}
 *   {"event":"fail","reason":...}                      then exit 1
 *   {"event":"done"}                                   then exit 0
 * A hard limit of timeout_ms + 5000 ms prints a fail line and exits 2.
 */

const crypto = require('crypto');

const SHORT_BINARY = 64;
const MAX_N = 1000000;
const MAX_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 10000;
const CLOSE_GRACE_MS = 3000;
const STDIN_LIMIT_MS = 10000;

function emit(obj) {
  // Writes to pipes and files are synchronous on Linux, so a line emitted
  // before process.exit() is not lost.
  process.stdout.write(JSON.stringify(obj) + '\n');
}

let exiting = false;
function finish(code, failReason) {
  if (exiting) return;
  exiting = true;
  if (failReason !== undefined) emit({ event: 'fail', reason: String(failReason) });
  process.exit(code);
}

process.on('exit', (code) => {
  // Never end silently with status 0 without having printed "done".
  if (!exiting) {
    emit({ event: 'fail', reason: 'event loop ended before the steps finished' });
    process.exitCode = code || 1;
  }
});
process.on('uncaughtException', (err) => {
  finish(1, 'uncaught exception: ' + (err && err.stack ? err.stack : String(err)));
});
process.on('unhandledRejection', (err) => {
  finish(1, 'unhandled rejection: ' + (err && err.stack ? err.stack : String(err)));
});

// ---------------------------------------------------------------- helpers

function safeString(value, limit = 2000) {
  if (value === undefined || value === null) return null;
  let out;
  if (typeof value === 'string') {
    out = value;
  } else {
    const seen = new WeakSet();
    try {
      out = JSON.stringify(value, function replacer(key, v) {
        if (v instanceof Error) {
          const e = { name: v.name, message: v.message };
          for (const k of ['type', 'code', 'description', 'context', 'transport']) {
            if (v[k] !== undefined) e[k] = v[k];
          }
          return e;
        }
        if (typeof v === 'function') return '[function]';
        if (typeof v === 'bigint') return v.toString();
        if (v && typeof v === 'object') {
          if (seen.has(v)) return '[circular]';
          seen.add(v);
          // Large host objects (requests, sockets) are not worth printing.
          const ctor = v.constructor && v.constructor.name;
          if (ctor && !['Object', 'Array', 'Error'].includes(ctor) &&
              !(v instanceof Error) && key !== '') {
            // Keep the interesting bits of e.g. a WebSocket CloseEvent.
            if (typeof v.code === 'number') {
              return { type: ctor, code: v.code, reason: v.reason === undefined ? null : String(v.reason) };
            }
            if (typeof v.message === 'string') {
              return { type: ctor, message: v.message };
            }
            return '[' + ctor + ']';
          }
        }
        return v;
      });
    } catch (e) {
      out = undefined;
    }
    if (out === undefined) {
      try { out = String(value); } catch (e) { out = '[unprintable]'; }
    }
  }
  return out.length > limit ? out.slice(0, limit) + '...' : out;
}

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function sha1(buf) {
  return crypto.createHash('sha1').update(buf).digest('hex');
}

// Normalized message: {kind: 'text', data} or {kind: 'binary', buf}.
function normalizeMessage(data) {
  if (typeof data === 'string') return { kind: 'text', data };
  const buf = toBuffer(data);
  if (buf) return { kind: 'binary', buf };
  return { kind: 'other', repr: safeString(data) };
}

function describeMessage(msg) {
  if (msg.kind === 'text') return { data: msg.data };
  if (msg.kind === 'binary') {
    if (msg.buf.length <= SHORT_BINARY) return { binary: Array.from(msg.buf) };
    return { binary_len: msg.buf.length, sha1: sha1(msg.buf) };
  }
  return { other: msg.repr };
}

function short(obj) {
  return safeString(obj, 300);
}

// ---------------------------------------------------------------- spec

function readSpecText(cb) {
  const arg = process.argv[2];
  if (arg !== undefined && arg !== '-') return cb(null, arg);
  const chunks = [];
  const timer = setTimeout(() => cb(new Error('timed out reading spec from stdin')), STDIN_LIMIT_MS);
  process.stdin.on('data', (c) => chunks.push(c));
  process.stdin.on('error', (e) => { clearTimeout(timer); cb(e); });
  process.stdin.on('end', () => {
    clearTimeout(timer);
    cb(null, Buffer.concat(chunks).toString('utf8'));
  });
}

function validateSpec(spec) {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new Error('spec must be an object');
  if (typeof spec.url !== 'string') throw new Error('spec.url must be a string');
  const client = spec.client === undefined ? 'v6' : spec.client;
  if (client !== 'v6' && client !== 'v3') throw new Error('spec.client must be "v6" or "v3"');
  const options = spec.options === undefined ? {} : spec.options;
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw new Error('spec.options must be an object');
  let timeoutMs = spec.timeout_ms === undefined ? DEFAULT_TIMEOUT_MS : spec.timeout_ms;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new Error('spec.timeout_ms must be a positive number');
  timeoutMs = Math.min(timeoutMs, MAX_TIMEOUT_MS);
  const steps = spec.steps === undefined ? [] : spec.steps;
  if (!Array.isArray(steps)) throw new Error('spec.steps must be a list');
  return { url: spec.url, client, options, timeoutMs, steps };
}

function loadClient(which) {
  if (which === 'v3') {
    // engine.io-client 3.x: module.exports is the Socket constructor.
    const mod = require('engine.io-client-v3');
    return (url, opts) => new mod(url, opts);
  }
  // engine.io-client 6.x: named export Socket (CommonJS build).
  const mod = require('engine.io-client');
  const Socket = mod.Socket || (mod.default && mod.default.Socket);
  if (typeof Socket !== 'function') throw new Error('engine.io-client does not export Socket');
  return (url, opts) => new Socket(url, opts);
}

// ---------------------------------------------------------------- runner

function main(spec) {
  const start = Date.now();
  const deadline = start + spec.timeoutMs;
  const remaining = () => deadline - Date.now();

  const hard = setTimeout(() => finish(2, 'hard timeout after ' + (spec.timeoutMs + 5000) + ' ms'),
    spec.timeoutMs + 5000);
  void hard;  // keeps the event loop alive until finish() exits

  const state = {
    open: false,
    upgrade: false,
    closed: false,
    counts: { ping: 0, pong: 0 },
    consumed: { ping: 0, pong: 0 },
    messages: [],   // queue of normalized messages not yet expected
  };
  // The step currently waiting: re-checked after every client event.
  let waiter = null;
  const poke = () => { if (waiter) waiter(); };

  const socket = loadClient(spec.client)(spec.url, spec.options);

  socket.on('open', () => {
    state.open = true;
    emit({ event: 'open', sid: socket.id, transport: socket.transport && socket.transport.name });
    poke();
  });
  socket.on('message', (data) => {
    const msg = normalizeMessage(data);
    state.messages.push(msg);
    emit(Object.assign({ event: 'message' }, describeMessage(msg)));
    poke();
  });
  socket.on('upgrade', (transport) => {
    state.upgrade = true;
    const name = (transport && transport.name) || (socket.transport && socket.transport.name);
    emit({ event: 'upgrade', transport: name });
    poke();
  });
  // v6 emits both 'ping' and 'pong' when it receives a server ping; v3 emits
  // 'ping' when it sends a ping and 'pong' when the server's pong arrives.
  for (const name of ['ping', 'pong']) {
    socket.on(name, () => {
      state.counts[name] += 1;
      emit({ event: name });
      poke();
    });
  }
  socket.on('close', (reason, description) => {
    state.closed = true;
    emit({ event: 'close', reason: safeString(reason), description: safeString(description) });
    poke();
  });
  socket.on('error', (err) => {
    const message = err && err.message !== undefined ? err.message : err;
    emit({ event: 'error', message: safeString(message) });
    poke();
  });

  // waitFor(check, what): check() returns true (done), a string (fail reason)
  // or false (keep waiting). Resolves with null or the fail reason.
  function waitFor(check, what) {
    return new Promise((resolve) => {
      let timer = null;
      const settle = (result) => {
        waiter = null;
        if (timer) clearTimeout(timer);
        resolve(result);
      };
      const evaluate = () => {
        let r;
        try { r = check(); } catch (e) { r = 'error while checking ' + what + ': ' + e.message; }
        if (r === true) { settle(null); return true; }
        if (typeof r === 'string') { settle(r); return true; }
        return false;
      };
      if (evaluate()) return;
      const left = remaining();
      if (left <= 0) { settle('timeout waiting for ' + what); return; }
      waiter = evaluate;
      timer = setTimeout(() => settle('timeout waiting for ' + what), left);
    });
  }

  function closedFail(what) {
    return state.closed ? 'client closed while waiting for ' + what : false;
  }

  function checkMessage(step, msg, index) {
    const where = index === undefined ? '' : ' #' + index;
    if ('data' in step) {
      if (msg.kind !== 'text' || msg.data !== step.data) {
        return 'message' + where + ' mismatch: expected ' + short({ data: step.data }) +
          ', got ' + short(describeMessage(msg));
      }
      return null;
    }
    if ('binary' in step || 'binary_len' in step || 'sha1' in step) {
      if (msg.kind !== 'binary') {
        return 'message' + where + ' mismatch: expected binary, got ' + short(describeMessage(msg));
      }
      if ('binary' in step) {
        const want = Buffer.from(step.binary);
        if (!want.equals(msg.buf)) {
          return 'message' + where + ' mismatch: expected ' + short(describeMessage({ kind: 'binary', buf: want })) +
            ', got ' + short(describeMessage(msg));
        }
      }
      if ('binary_len' in step && msg.buf.length !== step.binary_len) {
        return 'message' + where + ' mismatch: expected binary_len ' + step.binary_len + ', got ' + msg.buf.length;
      }
      if ('sha1' in step && sha1(msg.buf) !== String(step.sha1).toLowerCase()) {
        return 'message' + where + ' mismatch: expected sha1 ' + step.sha1 + ', got ' + sha1(msg.buf);
      }
      return null;
    }
    return null;  // any message
  }

  function checkCount(n, what) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_N) throw new Error(what + ' must be an integer in 0..' + MAX_N);
  }

  async function runStep(step, i) {
    if (!step || typeof step !== 'object') throw new Error('step ' + i + ' is not an object');

    if ('wait' in step) {
      const what = step.wait;
      if (what === 'open') {
        return waitFor(() => state.open || closedFail('open'), 'open');
      }
      if (what === 'upgrade') {
        return waitFor(() => state.upgrade || closedFail('upgrade'), 'upgrade');
      }
      if (what === 'close') {
        return waitFor(() => state.closed, 'close');
      }
      if (what === 'ping' || what === 'pong') {
        if (step.new) state.consumed[what] = state.counts[what];
        const r = await waitFor(() => state.counts[what] > state.consumed[what] || closedFail(what), what);
        if (r === null) state.consumed[what] += 1;
        return r;
      }
      throw new Error('step ' + i + ': unknown wait target ' + short(what));
    }

    if ('send' in step) {
      if (typeof step.send !== 'string') throw new Error('step ' + i + ': send must be a string');
      socket.send(step.send);
      return null;
    }

    if ('send_binary' in step) {
      if (!Array.isArray(step.send_binary)) throw new Error('step ' + i + ': send_binary must be a list of bytes');
      socket.send(Buffer.from(step.send_binary));
      return null;
    }

    if ('send_n' in step) {
      checkCount(step.send_n, 'send_n');
      const prefix = step.prefix === undefined ? '' : String(step.prefix);
      const gap = step.interval_ms;
      if (gap === undefined) {
        for (let k = 0; k < step.send_n; k++) socket.send(prefix + k);
        return null;
      }
      if (typeof gap !== 'number' || gap < 0 || gap * step.send_n > remaining()) {
        throw new Error('step ' + i + ': interval_ms must be a non-negative number fitting the timeout');
      }
      // Spread the sends over time so that they straddle an upgrade.
      for (let k = 0; k < step.send_n; k++) {
        socket.send(prefix + k);
        await new Promise((resolve) => setTimeout(resolve, gap));
      }
      return null;
    }

    if ('expect' in step) {
      if (step.expect !== 'message') throw new Error('step ' + i + ': unknown expect target ' + short(step.expect));
      let mismatch = null;
      const r = await waitFor(() => {
        if (state.messages.length > 0) {
          mismatch = checkMessage(step, state.messages.shift());
          return true;
        }
        return closedFail('message');
      }, 'message');
      return r || mismatch;
    }

    if ('expect_n' in step) {
      checkCount(step.expect_n, 'expect_n');
      const prefix = step.prefix === undefined ? '' : String(step.prefix);
      let got = 0;
      let mismatch = null;
      const r = await waitFor(() => {
        while (got < step.expect_n && state.messages.length > 0) {
          const msg = state.messages.shift();
          mismatch = checkMessage({ data: prefix + got }, msg, got);
          if (mismatch) return true;
          got += 1;
        }
        if (got >= step.expect_n) return true;
        return closedFail('message ' + got + ' of ' + step.expect_n);
      }, 'message ' + (prefix) + '<' + step.expect_n + '>');
      if (r) return r + ' (received ' + got + ' of ' + step.expect_n + ')';
      return mismatch;
    }

    if ('close' in step) {
      socket.close();
      return null;
    }

    if ('sleep_ms' in step) {
      const ms = step.sleep_ms;
      if (typeof ms !== 'number' || ms < 0) throw new Error('step ' + i + ': sleep_ms must be a non-negative number');
      if (ms > remaining()) return 'sleep_ms ' + ms + ' exceeds the remaining timeout';
      await new Promise((resolve) => setTimeout(resolve, ms));
      return null;
    }

    throw new Error('step ' + i + ': unknown step ' + short(step));
  }

  (async () => {
    for (let i = 0; i < spec.steps.length; i++) {
      let reason;
      try {
        reason = await runStep(spec.steps[i], i);
      } catch (e) {
        reason = e.message;
      }
      if (reason) {
        finish(1, 'step ' + i + ' ' + short(spec.steps[i]) + ': ' + reason);
        return;
      }
    }
    if (!state.closed) {
      try { socket.close(); } catch (e) { /* reported by the close wait below */ }
      // close() may wait for the write buffer to drain or an upgrade to end.
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, Math.min(CLOSE_GRACE_MS, remaining() + 4000)));
        const check = () => { if (state.closed) { clearTimeout(timer); resolve(); } else waiter = check; };
        check();
      });
      waiter = null;
    }
    emit({ event: 'done' });
    finish(0);
  })();
}

readSpecText((err, text) => {
  if (err) return finish(1, 'cannot read spec: ' + err.message);
  let spec;
  try {
    spec = validateSpec(JSON.parse(text));
  } catch (e) {
    return finish(1, 'bad spec: ' + e.message);
  }
  try {
    main(spec);
  } catch (e) {
    finish(1, 'cannot start client: ' + (e && e.message ? e.message : String(e)));
  }
});

// The live demo page. It uses the official engine.io-client browser bundle
// (the global `eio`), which the demo server serves from node_modules, and
// shows what the connection does as it happens.
(function () {
  'use strict';

  var PING_EVERY_MS = 1000;
  var LOG_LIMIT = 200;
  var SPARK_BARS = 30;

  function byId(id) { return document.getElementById(id); }
  var params = new URLSearchParams(location.search);
  // ?transports=websocket (or polling) pins the transport.
  var transports = (params.get('transports') || 'polling,websocket')
    .split(',').filter(Boolean);
  var loadedAt = performance.now();

  // Everything a test (or a curious person in the console) may read.
  var demo = window.demo = {
    state: 'connecting', transport: null, transportsSeen: [],
    upgraded: false, sid: null, driver: null, sessions: null,
    sent: [], echoes: [], rtts: [], heartbeats: 0, closeReason: null,
    socket: null
  };

  function log(kind, text) {
    var list = byId('log');
    var li = document.createElement('li');
    li.className = 'k-' + kind;
    var when = document.createElement('time');
    when.textContent = ((performance.now() - loadedAt) / 1000).toFixed(3) + 's';
    li.appendChild(when);
    li.appendChild(document.createTextNode(text));
    list.insertBefore(li, list.firstChild);  // newest first
    while (list.children.length > LOG_LIMIT) list.removeChild(list.lastChild);
  }

  function flash(el) {
    el.classList.remove('flash');
    void el.offsetWidth;  // restart the animation on every change
    el.classList.add('flash');
  }

  function setState(state) {
    demo.state = state;
    var el = byId('state');
    el.textContent = state;
    el.className = 'big s-' + state;
    byId('send').disabled = state !== 'open';
    byId('reconnect').hidden = state !== 'closed';
  }

  function setTransport(name) {
    demo.transport = name;
    if (demo.transportsSeen.indexOf(name) < 0) demo.transportsSeen.push(name);
    var el = byId('transport');
    el.textContent = name;
    el.className = 'big t-' + name;
    flash(el.parentNode);
  }

  function setUpgradeNote(text) { byId('upgrade').textContent = text; }

  function showProblem(text) {
    var el = byId('problem');
    el.textContent = text;
    el.hidden = false;
  }

  // -- round trips -----------------------------------------------------------

  var pending = {};   // ping id -> {at, transport}
  var nextPing = 1;
  var pingTimer = null;

  function sendPing() {
    if (demo.state !== 'open') return;
    var id = nextPing++;
    pending[id] = { at: performance.now(), transport: demo.transport };
    demo.socket.send(JSON.stringify({ type: 'ping', id: id }));
  }

  function averageOver(transport) {
    var sum = 0, n = 0;
    demo.rtts.forEach(function (r) {
      if (r.transport === transport) { sum += r.ms; n += 1; }
    });
    return n ? (sum / n).toFixed(1) + ' ms avg (' + n + ')' : null;
  }

  function showRoundTrip(ms, transport) {
    demo.rtts.push({ ms: ms, transport: transport });
    byId('rtt').textContent = ms.toFixed(1) + ' ms';
    var parts = ['polling', 'websocket'].map(function (t) {
      var avg = averageOver(t);
      return avg && t + ' ' + avg;
    }).filter(Boolean);
    byId('rtt-stats').textContent = parts.join(' · ');
    var recent = demo.rtts.slice(-SPARK_BARS);
    var top = Math.max.apply(null, recent.map(function (r) { return r.ms; }));
    var spark = byId('spark');
    spark.textContent = '';
    recent.forEach(function (r) {
      var bar = document.createElement('i');
      // A square-root scale: one slow polling trip must not flatten the rest.
      bar.style.height = Math.max(6, 100 * Math.sqrt(r.ms / (top || 1))) + '%';
      bar.style.background = r.transport === 'websocket' ? '#3c9d62' : '#d08a2c';
      bar.title = r.ms.toFixed(1) + ' ms over ' + r.transport;
      spark.appendChild(bar);
    });
    // The first echo over each transport goes in the log; the rest only
    // in the card, one a second would drown everything else.
    var same = demo.rtts.filter(function (r) { return r.transport === transport; });
    if (same.length === 1) {
      log('echo', 'first ping echoed over ' + transport + ': ' +
          ms.toFixed(1) + ' ms round trip');
    }
  }

  // -- what the server sends -------------------------------------------------

  function onText(data) {
    var msg;
    try { msg = JSON.parse(data); } catch (e) { msg = null; }
    if (!msg || typeof msg !== 'object') {
      log('echo', 'echoed: ' + data);
      return;
    }
    if (msg.type === 'ping' && pending[msg.id]) {
      var ping = pending[msg.id];
      delete pending[msg.id];
      showRoundTrip(performance.now() - ping.at, ping.transport);
    } else if (msg.type === 'say') {
      var took = typeof msg.at === 'number'
        ? ' (' + (Date.now() - msg.at) + ' ms)' : '';
      demo.echoes.push(msg.text);
      log('echo', 'echoed: "' + msg.text + '"' + took);
    } else if (msg.type === 'welcome') {
      demo.driver = msg.driver;
      byId('driver').textContent = msg.driver;
      log('server', 'server says welcome; its driver is ' + msg.driver);
    } else if (msg.type === 'sessions') {
      if (msg.count !== demo.sessions) {
        demo.sessions = msg.count;
        byId('sessions').textContent = String(msg.count);
        flash(byId('sessions').parentNode);
        log('server', 'sessions open on the server: ' + msg.count);
      }
    } else {
      log('echo', 'echoed: ' + data);
    }
  }

  function onBytes(data) {
    var view = new Uint8Array(data instanceof ArrayBuffer ? data
      : data.buffer || data);
    log('echo', 'echoed ' + view.length + ' bytes: [' +
        Array.prototype.slice.call(view, 0, 16).join(', ') + ']');
  }

  // -- the connection ----------------------------------------------------------

  function say(text) {
    demo.sent.push(text);
    demo.socket.send(JSON.stringify({ type: 'say', text: text, at: Date.now() }));
    log('sent', 'sent: "' + text + '"');
  }

  function connect() {
    pending = {};
    demo.transportsSeen = [];
    demo.upgraded = false;
    demo.closeReason = null;
    setState('connecting');
    setUpgradeNote('waiting for the handshake');
    log('transport', 'connecting with transports: ' + transports.join(', '));
    var openedAt = null;
    var socket = demo.socket = eio({ transports: transports });

    socket.on('handshake', function (data) {
      var offered = (data.upgrades || []).join(', ') || 'none';
      log('transport', 'handshake: session ' + data.sid + ', upgrades ' +
          'offered: ' + offered + ', server heartbeat every ' +
          data.pingInterval / 1000 + ' s');
    });
    socket.on('open', function () {
      openedAt = performance.now();
      demo.sid = socket.id;
      byId('sid').textContent = socket.id;
      setState('open');
      setTransport(socket.transport.name);
      log('transport', 'open over ' + socket.transport.name);
      if (socket.transport.name === 'polling' &&
          transports.indexOf('websocket') >= 0) {
        setUpgradeNote('probing a WebSocket beside the long-poll');
      } else {
        setUpgradeNote('no upgrade: only ' + socket.transport.name);
      }
      say('hello from ' + (navigator.platform || 'a browser'));
      clearInterval(pingTimer);
      pingTimer = setInterval(sendPing, PING_EVERY_MS);
      sendPing();
    });
    socket.on('upgrading', function (transport) {
      setUpgradeNote('probe answered over ' + transport.name +
                     ', pausing the long-poll');
      log('transport', 'upgrading: the ' + transport.name +
          ' probe was answered, pausing polling');
    });
    socket.on('upgrade', function (transport) {
      demo.upgraded = true;
      setTransport(transport.name);
      var ms = openedAt === null ? '' :
        ' ' + Math.round(performance.now() - openedAt) + ' ms after open';
      setUpgradeNote('upgraded from polling' + ms);
      log('transport', 'upgraded to ' + transport.name + ms);
    });
    socket.on('upgradeError', function (err) {
      setUpgradeNote('upgrade failed, staying on polling');
      log('error', 'upgrade failed (' + err.message + '), staying on polling');
    });
    socket.on('ping', function () {
      demo.heartbeats += 1;
    });
    socket.on('message', function (data) {
      if (typeof data === 'string') onText(data);
      else onBytes(data);
    });
    socket.on('error', function (err) {
      log('error', 'error: ' + (err && err.message ? err.message : err));
    });
    socket.on('close', function (reason, description) {
      clearInterval(pingTimer);
      demo.closeReason = reason;
      demo.sessions = null;
      byId('sessions').textContent = '-';
      setState('closed');
      setUpgradeNote('closed');
      log('error', 'closed: ' + reason +
          (description && description.message ? ' (' + description.message + ')' : ''));
    });
  }

  byId('say').addEventListener('submit', function (event) {
    event.preventDefault();
    var box = byId('text');
    var text = box.value.trim();
    if (!text || demo.state !== 'open') return;
    say(text);
    box.value = '';
  });
  byId('reconnect').addEventListener('click', connect);

  if (typeof eio !== 'function') {
    setState('closed');
    byId('reconnect').hidden = true;
    showProblem('The engine.io-client bundle did not load from ' +
      '/vendor/engine.io.min.js. Run `npm ci` at the repository root (or ' +
      'start the demo with `make demo`, which does it), then reload.');
    return;
  }
  connect();
}());

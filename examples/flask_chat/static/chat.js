// The chat page: the official engine.io-client browser bundle (global
// `eio`), served by the app itself from node_modules.
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var transports = (params.get('transports') || 'polling,websocket')
    .split(',').filter(Boolean);
  var name = params.get('name') ||
    'guest-' + Math.random().toString(36).slice(2, 6);

  // Everything a test (or a curious person in the console) may look at.
  var chat = window.chat = {
    name: name, state: 'connecting', transport: null, upgraded: false,
    transportsSeen: [], sid: null, chats: [], binaries: [], events: [],
    closeReason: null
  };

  var list = document.getElementById('messages');
  function show(text, cls, who) {
    var li = document.createElement('li');
    if (cls) li.className = cls;
    if (who) {
      var b = document.createElement('b');
      b.textContent = who + ': ';
      li.appendChild(b);
    }
    li.appendChild(document.createTextNode(text));
    list.appendChild(li);
  }
  function setTransport(t) {
    chat.transport = t;
    if (chat.transportsSeen.indexOf(t) < 0) chat.transportsSeen.push(t);
    document.getElementById('transport').textContent = t;
  }
  function setState(s) {
    chat.state = s;
    document.getElementById('state').textContent = s;
  }
  document.getElementById('me').textContent = name;

  var socket = eio({ transports: transports });
  chat.socket = socket;

  socket.on('open', function () {
    chat.sid = socket.id;
    setState('open');
    setTransport(socket.transport.name);
    chat.events.push('open');
    socket.send(JSON.stringify({ type: 'hello', name: name }));
  });
  socket.on('upgrade', function (transport) {
    chat.upgraded = true;
    setTransport(transport.name);
    chat.events.push('upgrade');
    show('upgraded to ' + transport.name, 'system');
  });
  socket.on('message', function (data) {
    if (typeof data !== 'string') {
      var view = data instanceof ArrayBuffer ? new Uint8Array(data)
        : new Uint8Array(data.buffer || data);
      var bytes = Array.prototype.slice.call(view);
      chat.binaries.push(bytes);
      show('bytes echoed: [' + bytes.join(', ') + ']', 'binary');
      return;
    }
    var msg;
    try { msg = JSON.parse(data); } catch (e) { msg = { type: 'text', text: data }; }
    if (msg.type === 'chat') {
      chat.chats.push({ name: msg.name, text: msg.text });
      show(msg.text, '', msg.name);
    } else if (msg.type === 'system') {
      show(msg.text, 'system');
    }
  });
  socket.on('close', function (reason) {
    chat.closeReason = reason;
    setState('closed');
    chat.events.push('close');
    show('disconnected: ' + reason, 'system');
  });

  chat.say = function (text) {
    socket.send(JSON.stringify({ type: 'chat', text: text }));
  };
  chat.sendBytes = function (bytes) {
    socket.send(new Uint8Array(bytes).buffer);
  };

  document.getElementById('form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = document.getElementById('text');
    if (input.value) chat.say(input.value);
    input.value = '';
  });
  document.getElementById('send-bytes').addEventListener('click', function () {
    chat.sendBytes([0, 1, 2, 127, 128, 200, 254, 255]);
  });
})();

// veil demo page: rooms with video and chat, publish/play, and a privacy panel.
//
// Everything here talks only to the veil server that served the page. User
// supplied text (chat, names) is only ever put into the page with textContent.
//
// window.veilDemo exposes read-only state for automated browser tests; see
// docs/CLIENT.md ("Demo page test hooks").

import { VeilClient, candidateType } from './veil.js';

const STATS_INTERVAL_MS = 2000;
const MAX_CHAT = 500; // lines kept in the log
const MAX_CANDIDATES = 1000; // raw remote candidates kept for display
const MAX_NAME_BYTES = 256; // protocol limit for room and stream names

const $ = (id) => document.getElementById(id);

// ---- state -------------------------------------------------------------------

const state = {
  client: null,
  connState: 'connecting',
  id: null,
  policy: null,
  iceTransportPolicy: null,
  room: null, // joined room
  joining: false,
  members: new Map(), // peer id -> {id, conn: connectionState, channel: bool}
  chat: [], // {from, text, self, system, at}
  remoteCandidates: [], // {peer, source, candidate, type}
  candidateTypes: { host: 0, srflx: 0, prflx: 0, relay: 0 },
  pairs: {}, // peer id -> {local, remote, ...}
  video: {}, // peer id -> frame status
  stream: { mode: null, id: null, status: null, publisher: null, viewers: 0 },
  errors: [], // {code, message, at}
  localStream: null,
  localMedia: { audio: false, video: false, error: null },
  tiles: new Map(), // peer id -> {figure, video, frames}
};

// ---- helpers -----------------------------------------------------------------

const short = (id) => (id ? String(id).slice(0, 8) : '?');

function randomName() {
  const b = new Uint8Array(16); // 128 bits: unguessable
  crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function validName(name) {
  const n = new TextEncoder().encode(name).length;
  // eslint-disable-next-line no-control-regex
  return n >= 1 && n <= MAX_NAME_BYTES && !/[\u0000-\u001f\u007f-\u009f]/.test(name);
}

const ERROR_TEXT = {
  'bad-json': 'The server could not read a message from this page.',
  'bad-message': 'The server rejected a malformed request.',
  'unknown-type': 'The server does not understand this request (is it an older version?).',
  'too-large': 'That message is too large for the server.',
  'rate-limited': 'Slow down: too many messages in a short time. Try again in a moment.',
  'room-full': 'This room is full.',
  'too-many-rooms': 'You are in too many rooms at once.',
  'not-in-room': 'You are not in that room.',
  'stream-in-use': 'Someone is already publishing under this stream ID. Pick another one.',
  'unknown-peer': 'That peer has left or cannot be reached.',
  unauthorized: 'Not authorized: this server needs a valid access token (see Advanced).',
  'sealed-denied': 'This server does not accept sealed signaling.',
  disconnected: 'Lost the connection to the server. Reconnecting…',
  closed: 'The connection to the server is closed.',
  version: 'This page and the server speak different protocol versions; reload the page.',
  webrtc: 'A peer connection failed to negotiate.',
  'connect-failed': 'Could not reach the server.',
};

function humanError(err) {
  const code = err && err.code;
  const base = ERROR_TEXT[code] || (err && err.message) || String(err);
  return code && !ERROR_TEXT[code] ? `${base} (${code})` : base;
}

function showError(err) {
  const message = humanError(err);
  state.errors.push({ code: (err && err.code) || 'error', message, at: Date.now() });
  if (state.errors.length > 100) state.errors.shift();
  $('error-text').textContent = message;
  $('error').hidden = false;
}

function showNotice(text) {
  const n = $('notice');
  n.textContent = text || '';
  n.hidden = !text;
}

function setConn(connState, text) {
  state.connState = connState;
  const b = $('conn-status');
  b.dataset.state = connState;
  b.textContent = text;
}

// ---- chat --------------------------------------------------------------------

function addChat(entry) {
  state.chat.push({ ...entry, at: Date.now() });
  if (state.chat.length > MAX_CHAT) state.chat.shift();
  const li = document.createElement('li');
  if (entry.system) {
    li.className = 'system';
    li.textContent = entry.text;
  } else {
    if (entry.self) li.className = 'self';
    li.dataset.from = entry.from;
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = entry.self ? 'you' : short(entry.from);
    li.append(from, document.createTextNode(entry.text));
  }
  const log = $('chat-log');
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  log.append(li);
  while (log.children.length > MAX_CHAT) log.firstChild.remove();
  if (atBottom || entry.self) log.scrollTop = log.scrollHeight;
}

function sendChat(text) {
  text = text.trim();
  if (!text) return;
  const n = state.client.broadcast(JSON.stringify({ t: 'chat', text }));
  addChat({ from: state.id, text, self: true });
  if (n === 0) addChat({ system: true, text: 'Nobody is connected yet; your message was not delivered.' });
}

// ---- peers and video ------------------------------------------------------------

function renderPeers() {
  const ul = $('peers');
  ul.replaceChildren();
  for (const m of state.members.values()) {
    const li = document.createElement('li');
    li.dataset.peerId = m.id;
    li.dataset.state = m.conn || 'new';
    li.dataset.testid = 'peer';
    const name = document.createElement('span');
    name.textContent = short(m.id);
    name.title = m.id;
    const st = document.createElement('span');
    st.className = 'state';
    st.textContent = m.conn === 'connected' ? (m.channel ? 'connected' : 'media only') : (m.conn || 'connecting…');
    li.append(name, st);
    ul.append(li);
  }
  if (state.members.size === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = state.room ? 'Nobody else here yet. Share the link!' : 'Join a room to see peers.';
    ul.append(li);
  }
  $('peer-count').textContent = String(state.members.size);
  updateRoomStatus();
}

function updateRoomStatus() {
  let text;
  if (state.joining) text = 'Joining…';
  else if (!state.room) text = 'Not in a room.';
  else if (state.connState !== 'open') text = 'Reconnecting to the room…';
  else {
    const n = state.members.size;
    text = `In the room with ${n} other ${n === 1 ? 'person' : 'people'}.`;
  }
  $('room-status').textContent = text;
}

function tileFor(peerId) {
  let tile = state.tiles.get(peerId);
  if (tile) return tile;
  const figure = document.createElement('figure');
  figure.className = 'tile remote';
  figure.dataset.peer = peerId;
  figure.dataset.testid = 'remote-tile';
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.dataset.peer = peerId;
  video.dataset.testid = 'remote-video';
  const cap = document.createElement('figcaption');
  figure.append(video, cap);
  $('videos').append(figure);
  tile = { figure, video, cap, frames: 0 };
  state.tiles.set(peerId, tile);
  labelTile(peerId);
  // Count rendered frames where the browser can tell us.
  if (video.requestVideoFrameCallback) {
    const onFrame = () => {
      tile.frames++;
      if (state.tiles.get(peerId) === tile) video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }
  return tile;
}

function labelTile(peerId) {
  const tile = state.tiles.get(peerId);
  if (!tile) return;
  const s = state.stream;
  tile.cap.textContent = s.mode === 'play' && s.publisher === peerId ? `Stream ${s.id}` : short(peerId);
  tile.cap.title = peerId;
}

function removeTile(peerId) {
  const tile = state.tiles.get(peerId);
  if (!tile) return;
  state.tiles.delete(peerId);
  tile.video.srcObject = null;
  tile.figure.remove();
  delete state.video[peerId];
}

function playVideo(video) {
  video.play().catch(() => {
    // Autoplay with sound was refused: play muted and let the user unmute.
    video.muted = true;
    video.controls = true;
    video.play().catch(() => {});
  });
}

// ---- local media -----------------------------------------------------------------

async function getMedia() {
  if (state.localStream) return state.localStream;
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) {
    mediaFailed('Camera and microphone need a secure (https) page; you can still chat and watch.');
    return null;
  }
  const attempts = [
    { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } },
    { video: { width: { ideal: 640 }, height: { ideal: 480 } } },
    { audio: true },
  ];
  let lastErr = null;
  for (const c of attempts) {
    try {
      const stream = await md.getUserMedia(c);
      setLocalStream(stream);
      return stream;
    } catch (err) {
      lastErr = err;
      // Permission denied is final; "not found" may mean only one device is missing.
      if (err && (err.name === 'NotAllowedError' || err.name === 'SecurityError')) break;
    }
  }
  const name = lastErr && lastErr.name;
  mediaFailed(
    name === 'NotAllowedError' || name === 'SecurityError'
      ? 'Camera and microphone access was denied. You can still chat and see others.'
      : name === 'NotFoundError' || name === 'OverconstrainedError'
        ? 'No camera or microphone found. You can still chat and see others.'
        : name === 'NotReadableError'
          ? 'The camera or microphone is in use by another app. You can still chat and see others.'
          : `Camera and microphone unavailable (${name || lastErr}). You can still chat and see others.`,
  );
  return null;
}

function mediaFailed(text) {
  state.localMedia = { audio: false, video: false, error: text };
  const o = $('local-media-status');
  o.textContent = text;
  o.hidden = false;
  showNotice(text);
}

function setLocalStream(stream) {
  state.localStream = stream;
  const a = stream ? stream.getAudioTracks()[0] : null;
  const v = stream ? stream.getVideoTracks()[0] : null;
  state.localMedia = { audio: !!a, video: !!v, error: null };
  $('local-video').srcObject = stream;
  $('local-media-status').hidden = !!v;
  if (!v) $('local-media-status').textContent = stream ? 'Microphone only' : 'Camera off';
  $('toggle-audio').disabled = !a;
  $('toggle-video').disabled = !v;
  if (state.client) state.client.setLocalStream(stream);
}

function toggleTrack(kind, button, onText, offText) {
  const s = state.localStream;
  const t = s && (kind === 'audio' ? s.getAudioTracks()[0] : s.getVideoTracks()[0]);
  if (!t) return;
  t.enabled = !t.enabled;
  button.setAttribute('aria-pressed', String(!t.enabled));
  button.textContent = t.enabled ? onText : offText;
}

// ---- privacy panel ------------------------------------------------------------------

const POLICY_TEXT = {
  relay: {
    force: 'forced — every connection goes through the server’s relay; peers never see your IP',
    optional: 'optional — direct connections are allowed unless you ask for relay',
    off: 'off — peers connect directly and can see your IP address',
  },
  sysinfo: { strip: 'stripped from debug data', pass: 'passed through to peers' },
  sealed: { allow: 'allowed', deny: 'not accepted' },
  retention: { none: 'none — nothing is stored' },
  logs: { redacted: 'redacted — no IPs, room names or ids', full: 'full (may include addresses)' },
};

function renderPolicy() {
  const p = state.policy || {};
  for (const k of ['relay', 'sysinfo', 'sealed', 'retention', 'logs']) {
    const v = p[k];
    const el = $(`policy-${k}`);
    el.textContent = v === undefined ? '–' : (POLICY_TEXT[k] && POLICY_TEXT[k][v]) || String(v);
    el.dataset.value = v === undefined ? '' : String(v);
  }
  const ice = $('policy-ice');
  ice.dataset.value = state.iceTransportPolicy || '';
  ice.textContent = state.iceTransportPolicy === 'relay' ? 'relay only — this browser uses TURN for everything'
    : state.iceTransportPolicy === 'all' ? 'all — direct connections possible' : '–';
}

function recordCandidate({ peer, candidate, source, type }) {
  type = type || candidateType(candidate) || 'unknown';
  if (state.remoteCandidates.length < MAX_CANDIDATES) {
    state.remoteCandidates.push({ peer, source, candidate, type });
    const li = document.createElement('li');
    li.textContent = `${short(peer)} (${source}): ${candidate}`;
    $('cand-raw').append(li);
  }
  state.candidateTypes[type] = (state.candidateTypes[type] || 0) + 1;
  const el = $(`cand-${type}`);
  if (el) el.textContent = String(state.candidateTypes[type]);
  $('cand-total').textContent = String(state.remoteCandidates.length);
}

function renderPairs() {
  const ul = $('pairs');
  ul.replaceChildren();
  const entries = Object.entries(state.pairs);
  let relayed = 0;
  let direct = 0;
  for (const [id, p] of entries) {
    const li = document.createElement('li');
    li.dataset.peer = id;
    li.dataset.testid = 'pair';
    const idEl = document.createElement('span');
    idEl.className = 'id';
    idEl.textContent = short(id);
    const kind = document.createElement('span');
    kind.className = 'kind';
    if (p) {
      const isRelayed = p.local === 'relay';
      li.dataset.relayed = String(isRelayed);
      li.dataset.local = p.local;
      li.dataset.remote = p.remote;
      if (isRelayed) relayed++;
      else direct++;
      kind.textContent = ` ${p.local} ↔ ${p.remote}${p.relayProtocol ? ` (TURN over ${p.relayProtocol})` : ''} — ${isRelayed ? 'relayed' : 'direct'}`;
    } else {
      li.dataset.relayed = 'unknown';
      kind.textContent = ' not connected yet';
    }
    li.append(idEl, kind);
    ul.append(li);
  }
  if (entries.length === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'None.';
    ul.append(li);
  }
  const sum = $('relay-summary');
  if (relayed + direct === 0) {
    sum.dataset.relayed = 'unknown';
    sum.textContent = entries.length ? 'Connecting…' : 'No peer connection yet.';
  } else if (direct === 0) {
    sum.dataset.relayed = 'true';
    sum.textContent = `Relayed: ${relayed === 1 ? 'the connection goes' : `all ${relayed} connections go`} through the TURN server. Peers see the server’s address, not yours.`;
  } else if (relayed === 0) {
    sum.dataset.relayed = 'false';
    sum.textContent = `Direct: ${direct} peer${direct === 1 ? '' : 's'} can see your IP address.`;
  } else {
    sum.dataset.relayed = 'mixed';
    sum.textContent = `Mixed: ${relayed} relayed, ${direct} direct (those peers can see your IP address).`;
  }
}

// Every STATS_INTERVAL_MS: selected pairs and inbound video frame counters.
async function refreshStats() {
  const client = state.client;
  if (!client) return;
  const pairs = {};
  for (const id of client.peers) {
    try {
      pairs[id] = await client.getSelectedPair(id);
    } catch {
      pairs[id] = null;
    }
    const tile = state.tiles.get(id);
    if (tile) {
      let framesDecoded = 0;
      try {
        const pc = client.getPeerConnection(id);
        const stats = pc ? await pc.getStats() : null;
        if (stats) stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded += s.framesDecoded || 0; });
      } catch { /* closed meanwhile */ }
      tile.framesDecoded = framesDecoded;
    }
  }
  if (client !== state.client) return;
  state.pairs = pairs;
  renderPairs();
  refreshVideo();
}

function refreshVideo() {
  for (const [id, tile] of state.tiles) {
    const v = tile.video;
    const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    state.video[id] = {
      width: v.videoWidth,
      height: v.videoHeight,
      readyState: v.readyState,
      currentTime: v.currentTime,
      paused: v.paused,
      renderedFrames: tile.frames,
      totalVideoFrames: q ? q.totalVideoFrames : 0,
      framesDecoded: tile.framesDecoded || 0,
      hasFrames: v.videoWidth > 0 && (tile.frames > 0 || (q && q.totalVideoFrames > 0) || (tile.framesDecoded || 0) > 0),
    };
  }
}

// ---- room and stream actions -----------------------------------------------------------

function updateControls() {
  const inRoom = !!state.room;
  // On a phone the video goes on top once there is a call to show.
  document.body.classList.toggle('in-call', inRoom || !!state.stream.mode);
  const busy = state.joining;
  $('join').disabled = inRoom || busy;
  $('leave').disabled = !inRoom && !busy;
  $('room').readOnly = inRoom || busy;
  $('room-new').disabled = inRoom || busy;
  $('require-relay').disabled = inRoom || busy || !!state.stream.mode;
  const chat = inRoom || !!state.stream.mode;
  $('chat-input').disabled = !chat;
  $('chat-send').disabled = !chat;
  const s = state.stream.mode;
  $('publish').disabled = !!s;
  $('play').disabled = !!s;
  $('stream').readOnly = !!s;
  $('stream-stop').disabled = !s;
}

function setHash() {
  const p = new URLSearchParams();
  const room = state.room || $('room').value.trim();
  if (room) p.set('room', room);
  if (state.stream.id) p.set('stream', state.stream.id);
  // The fragment never goes to the server in an HTTP request.
  history.replaceState(null, '', `#${p.toString()}`);
}

async function join() {
  const room = $('room').value.trim();
  if (!validName(room)) {
    showError({ message: 'Room names are 1–256 bytes of printable text.' });
    return;
  }
  $('error').hidden = true;
  state.joining = true;
  updateControls();
  updateRoomStatus();
  try {
    if ($('use-media').checked) await getMedia();
    const token = $('token').value.trim() || undefined;
    await state.client.join(room, { token });
    state.room = room;
    setHash();
    addChat({ system: true, text: 'You joined the room.' });
  } catch (err) {
    showError(err);
  } finally {
    state.joining = false;
    updateControls();
    renderPeers();
  }
}

async function leave() {
  const room = state.room || $('room').value.trim();
  state.room = null;
  state.joining = false;
  state.members.clear();
  updateControls();
  renderPeers();
  try {
    await state.client.leave(room);
    addChat({ system: true, text: 'You left the room.' });
  } catch (err) {
    showError(err);
  }
}

function streamName() {
  let id = $('stream').value.trim();
  if (!id) {
    id = randomName();
    $('stream').value = id;
  }
  if (!validName(id)) {
    showError({ message: 'Stream IDs are 1–256 bytes of printable text.' });
    return null;
  }
  return id;
}

function setStreamStatus(status, text) {
  state.stream.status = status;
  const el = $('stream-status');
  el.dataset.status = status || '';
  el.textContent = text;
}

async function publish() {
  const id = streamName();
  if (!id) return;
  $('error').hidden = true;
  state.stream = { mode: 'publish', id, status: 'publishing', publisher: null, viewers: 0 };
  updateControls();
  setStreamStatus('publishing', 'Publishing…');
  try {
    await getMedia();
    await state.client.publish(id, { token: $('token').value.trim() || undefined });
    setStreamStatus('published', `Live: publishing “${id}”. No viewers yet.`);
    setHash();
  } catch (err) {
    state.stream = { mode: null, id: null, status: null, publisher: null, viewers: 0 };
    updateControls();
    setStreamStatus(null, 'Not publishing.');
    showError(err);
  }
}

async function play() {
  const id = streamName();
  if (!id) return;
  $('error').hidden = true;
  state.stream = { mode: 'play', id, status: 'requesting', publisher: null, viewers: 0 };
  updateControls();
  setStreamStatus('requesting', 'Requesting stream…');
  try {
    const reply = await state.client.play(id, { token: $('token').value.trim() || undefined });
    setHash();
    if (reply && reply.type === 'waiting' && state.stream.status !== 'playing') {
      setStreamStatus('waiting', `Waiting for publisher of “${id}”…`);
    }
  } catch (err) {
    state.stream = { mode: null, id: null, status: null, publisher: null, viewers: 0 };
    updateControls();
    setStreamStatus(null, 'Not playing.');
    showError(err);
  }
}

async function stopStream() {
  const { mode, id } = state.stream;
  state.stream = { mode: null, id: null, status: null, publisher: null, viewers: 0 };
  updateControls();
  setStreamStatus(null, 'Publish your camera under a stream ID, or play one.');
  if (mode === 'publish') await state.client.unpublish(id);
  else if (mode === 'play') state.client.stop(id);
}

// ---- the client ------------------------------------------------------------------------

function createClient() {
  const client = new VeilClient({ relay: $('require-relay').checked });
  state.client = client;
  const on = (type, fn) => client.on(type, (d) => { if (state.client === client) fn(d); });

  on('welcome', (w) => {
    state.id = w.id;
    state.policy = w.policy;
    state.iceTransportPolicy = w.iceTransportPolicy;
    setConn('open', 'connected');
    $('self-id').textContent = `Your peer id: ${short(w.id)}… (kept when a dropped connection is resumed, new otherwise)`;
    if (w.resumed) addChat({ system: true, text: 'Signaling connection resumed; calls went on.' });
    renderPolicy();
    updateRoomStatus();
    showNotice(state.localMedia.error || '');
  });
  on('reconnecting', ({ delay }) => {
    setConn('reconnecting', `reconnecting in ${Math.ceil(delay / 1000)} s…`);
    updateRoomStatus();
  });
  on('close', () => setConn('closed', 'disconnected'));
  on('error', ({ error }) => showError(error));

  on('joined', ({ room, peers }) => {
    if (room !== state.room && room !== $('room').value.trim()) return;
    state.members.clear();
    for (const p of peers) state.members.set(p.id, { id: p.id, conn: 'new', channel: false });
    renderPeers();
  });
  on('peer-joined', ({ room, peer, existing }) => {
    if (room !== state.room && !state.joining) return;
    if (!state.members.has(peer)) state.members.set(peer, { id: peer, conn: 'new', channel: false });
    if (!existing) addChat({ system: true, text: `${short(peer)} joined.` });
    renderPeers();
  });
  on('peer-left', ({ room, peer, reason }) => {
    if (room !== state.room) return;
    if (state.members.delete(peer) && !reason) addChat({ system: true, text: `${short(peer)} left.` });
    renderPeers();
  });

  on('track', ({ peer, stream }) => {
    const tile = tileFor(peer);
    if (tile.video.srcObject !== stream) {
      tile.video.srcObject = stream;
      playVideo(tile.video);
    }
  });
  on('connectionstatechange', ({ peer, state: s }) => {
    const m = state.members.get(peer);
    if (m) {
      m.conn = s;
      renderPeers();
    }
    if (s === 'closed') {
      removeTile(peer);
      delete state.pairs[peer];
      renderPairs();
    }
  });
  on('datachannel', ({ peer }) => {
    const m = state.members.get(peer);
    if (m) {
      m.channel = true;
      renderPeers();
    }
  });
  on('message', ({ peer, data }) => {
    if (typeof data !== 'string') return;
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg && msg.t === 'chat' && typeof msg.text === 'string') {
      addChat({ from: peer, text: msg.text.slice(0, 2000) });
    }
  });
  on('remote-candidate', recordCandidate);

  on('viewer', () => {
    if (state.stream.mode !== 'publish') return;
    state.stream.viewers++;
    const n = state.stream.viewers;
    setStreamStatus('published', `Live: publishing “${state.stream.id}”. ${n} viewer${n === 1 ? '' : 's'} so far.`);
  });
  on('playing', ({ stream, peer }) => {
    if (state.stream.mode !== 'play' || stream !== state.stream.id) return;
    state.stream.publisher = peer;
    setStreamStatus('playing', `Playing “${stream}” from ${short(peer)}.`);
    labelTile(peer);
  });
  on('waiting', ({ stream }) => {
    if (state.stream.mode !== 'play' || stream !== state.stream.id) return;
    if (state.stream.status !== 'playing') setStreamStatus('waiting', `Waiting for publisher of “${stream}”…`);
  });
  on('stream-ended', ({ stream }) => {
    if (state.stream.mode !== 'play' || stream !== state.stream.id) return;
    state.stream.publisher = null;
    setStreamStatus('waiting', `The stream ended. Waiting for publisher of “${stream}”…`);
  });

  if (state.localStream) client.setLocalStream(state.localStream);
  setConn('connecting', 'connecting…');
  client.connect().catch((err) => showError(err));
  return client;
}

// ---- test hooks --------------------------------------------------------------------------

const clone = (x) => JSON.parse(JSON.stringify(x));

function snapshot() {
  return clone({
    connState: state.connState,
    id: state.id,
    policy: state.policy,
    iceTransportPolicy: state.iceTransportPolicy,
    room: state.room,
    joined: !!state.room,
    peers: [...state.members.keys()],
    openChannels: [...state.members.values()].filter((m) => m.channel).map((m) => m.id),
    chat: state.chat,
    remoteCandidates: state.remoteCandidates,
    candidateTypes: state.candidateTypes,
    pairs: state.pairs,
    video: state.video,
    stream: state.stream,
    errors: state.errors,
    localMedia: state.localMedia,
  });
}

// Read-only: every getter returns a fresh copy, so a test cannot disturb the page.
window.veilDemo = Object.freeze({
  get connState() { return state.connState; },
  get id() { return state.id; },
  get policy() { return clone(state.policy); },
  get room() { return state.room; },
  get joined() { return !!state.room; },
  get peers() { return [...state.members.keys()]; },
  get chat() { return clone(state.chat); },
  get remoteCandidates() { return clone(state.remoteCandidates); },
  get candidateTypes() { return { ...state.candidateTypes }; },
  get pairs() { return clone(state.pairs); },
  get video() { refreshVideo(); return clone(state.video); },
  get stream() { return { ...state.stream }; },
  get errors() { return clone(state.errors); },
  get localMedia() { return { ...state.localMedia }; },
  snapshot() { refreshVideo(); return snapshot(); },
  refreshStats: () => refreshStats(),
  version: 1,
});

// ---- wiring ------------------------------------------------------------------------------

function init() {
  const params = new URLSearchParams(location.hash.slice(1));
  $('room').value = params.get('room') || randomName();
  if (params.get('stream')) $('stream').value = params.get('stream');

  $('room-new').addEventListener('click', () => { $('room').value = randomName(); });
  $('room-form').addEventListener('submit', (e) => { e.preventDefault(); join(); });
  $('leave').addEventListener('click', () => leave());
  $('copy-link').addEventListener('click', async () => {
    setHash();
    try {
      await navigator.clipboard.writeText(location.href);
      showNotice('Link copied. The room name is in the part after “#”, which browsers never send to the server.');
    } catch {
      showNotice(`Share this link: ${location.href}`);
    }
  });
  $('publish').addEventListener('click', () => publish());
  $('play').addEventListener('click', () => play());
  $('stream-stop').addEventListener('click', () => stopStream());
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sendChat($('chat-input').value);
    $('chat-input').value = '';
  });
  $('error-close').addEventListener('click', () => { $('error').hidden = true; });
  $('toggle-audio').addEventListener('click', (e) => toggleTrack('audio', e.currentTarget, 'Mute mic', 'Unmute mic'));
  $('drop-signaling').addEventListener('click', () => { if (state.client) state.client.drop(); });
  $('toggle-video').addEventListener('click', (e) => toggleTrack('video', e.currentTarget, 'Camera off', 'Camera on'));
  $('require-relay').addEventListener('change', () => {
    if (state.room || state.stream.mode) return;
    state.client.close();
    createClient();
  });
  window.addEventListener('hashchange', () => {
    if (state.room || state.joining) return;
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.get('room')) $('room').value = p.get('room');
    if (p.get('stream') && !state.stream.mode) $('stream').value = p.get('stream');
  });
  // Leave promptly so others see us go without waiting for a timeout.
  window.addEventListener('pagehide', () => { if (state.client) state.client.close(); });

  renderPeers();
  renderPairs();
  renderPolicy();
  updateControls();
  createClient();
  setInterval(refreshStats, STATS_INTERVAL_MS);
}

init();

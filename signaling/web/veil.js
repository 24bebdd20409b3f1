// veil.js — browser client for the veil signaling protocol, version 1.
//
// A dependency-free ES module for modern browsers. It speaks the native veil
// wire protocol (docs/PROTOCOL.md) over one WebSocket and manages one
// RTCPeerConnection per remote peer, with:
//
//   - rooms (mesh): every member connects to every other member;
//   - streams: a publisher sends media to each viewer that plays its stream ID;
//   - perfect negotiation (MDN pattern) so either side may (re)negotiate at any
//     time without glare, politeness decided by comparing peer ids;
//   - trickle ICE with the iceServers and iceTransportPolicy from `welcome`;
//   - one negotiated data channel per peer (id 0, label "veil"), created by
//     both sides, so no side has to wait for an ondatachannel event;
//   - resume: after a drop the client reconnects with the resume token of its
//     last welcome and, within the server's grace window, keeps its id, its
//     rooms, streams and RTCPeerConnections (calls go on; an ICE restart only
//     for a connection whose ICE failed or disconnected meanwhile, or for
//     all when the session moved to another node, whose TURN URLs differ);
//   - otherwise reconnect with exponential backoff and jitter, after which
//     rooms are re-joined and streams re-published/re-played (the id changes).
//
// The API and the events are documented in docs/CLIENT.md.

/** Protocol version this client implements. */
export const PROTOCOL_VERSION = 1;

// Keepalive: the server also pings at the WebSocket level, but browsers do not
// expose those, so a JSON ping lets the client notice a dead connection too.
const PING_INTERVAL_MS = 25_000;
// How long to wait for any message after a ping before declaring the socket dead.
const PONG_TIMEOUT_MS = 10_000;
// Reconnect backoff: first retry after about BASE, doubling up to CAP.
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
// Label and id of the per-peer data channel (negotiated out of band: both
// sides create it, so there is no ondatachannel race and no glare).
const DATA_CHANNEL_LABEL = 'veil';
const DATA_CHANNEL_ID = 0;
// How long unpublish() waits for the server's "unpublished" reply.
const UNPUBLISH_REPLY_WAIT_MS = 5_000;
// Signals (offers, candidates) made while the socket is down and a resume is
// possible wait for it, at most this many; older ones are dropped first.
const RESUME_OUTBOX_MAX = 256;
// The first reconnect after a drop comes quickly: a resume must land within
// the server's grace window (30 s by default).
const RESUME_FIRST_DELAY_MS = 100;

/**
 * VeilError is the Error a rejected request or an `error` event carries.
 * `code` is the protocol's error code (e.g. "room-full") or one of the
 * client-side codes "disconnected", "closed", "bad-state".
 */
export class VeilError extends Error {
  constructor(code, message, ref) {
    super(message || code);
    this.name = 'VeilError';
    this.code = code;
    if (ref !== undefined) this.ref = ref;
  }
}

/** Returns the candidate type ("host", "srflx", "prflx", "relay") of an SDP candidate string, or "". */
export function candidateType(candidate) {
  const m = / typ ([a-z]+)/.exec(candidate || '');
  return m ? m[1] : '';
}

/** Returns every `a=candidate:` line of an SDP, without the `a=` prefix. */
export function sdpCandidates(sdp) {
  const out = [];
  for (const line of String(sdp || '').split(/\r?\n/)) {
    if (line.startsWith('a=candidate:')) out.push(line.slice(2));
  }
  return out;
}

function defaultURL() {
  // Resolve "ws" next to this module, so a page that loads
  // https://veil.example/veil.js talks to https://veil.example/ws, and a veil
  // mounted under a prefix (/rtc/veil.js) is reached at /rtc/ws.
  let base;
  try {
    base = new URL('ws', import.meta.url);
  } catch {
    base = null;
  }
  if (!base || (base.protocol !== 'http:' && base.protocol !== 'https:')) {
    base = new URL('/ws', globalThis.location.href);
  }
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  base.hash = '';
  return base.href;
}

/**
 * VeilClient connects to a veil server and manages peer connections.
 *
 * Events (all CustomEvent, payload in `event.detail`; or use `client.on(type, fn)`
 * which passes the detail directly): see docs/CLIENT.md.
 */
export class VeilClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string} [options.url] WebSocket URL; default ws(s)://<host of veil.js>/ws.
   * @param {boolean} [options.relay] ask the server to force relay for this peer (?relay=1).
   * @param {boolean} [options.reconnect=true] reconnect automatically after a drop.
   * @param {RTCConfiguration} [options.rtcConfig] extra RTCPeerConnection settings;
   *   iceServers and iceTransportPolicy from `welcome` take precedence.
   * @param {typeof WebSocket} [options.WebSocket] WebSocket implementation (tests).
   */
  constructor(options = {}) {
    super();
    let url = options.url || defaultURL();
    if (options.relay) {
      const u = new URL(url);
      u.searchParams.set('relay', '1');
      url = u.href;
    }
    this.url = url;
    this.options = { reconnect: true, ...options };

    /** Our peer id for the current connection (changes on every reconnect). */
    this.id = null;
    /** ICE servers and transport policy from the last welcome. */
    this.iceServers = [];
    this.iceTransportPolicy = 'all';
    /** The server's privacy policy from the last welcome. */
    this.policy = null;
    /** "idle" | "connecting" | "open" | "reconnecting" | "closed" */
    this.state = 'idle';

    this._ws = null;
    this._closed = false;
    // Resume: the token of the last welcome, whether a resume is under way
    // (the socket dropped, peers kept), and signals waiting for it.
    this._resumeToken = null;
    this._resuming = false;
    this._outbox = [];
    this._attempt = 0;
    this._retryTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._rid = 0;
    this._requests = new Map(); // rid -> {kind, key, resolve, reject}
    this._connectWaiters = [];

    // What the application asked for; re-sent after every reconnect.
    // key -> {token, waiters: [{resolve, reject}], done: bool}
    this._rooms = new Map();
    this._publishes = new Map();
    this._plays = new Map();

    // Live state of the current connection.
    this._members = new Map(); // room -> Map(peerId -> {id, stream?})
    this._peers = new Map(); // peerId -> Peer
    this._localStream = null;
  }

  // ---- events --------------------------------------------------------------

  /** on subscribes fn(detail) to an event and returns a function that unsubscribes. */
  on(type, fn) {
    const h = (e) => fn(e.detail, e);
    this.addEventListener(type, h);
    return () => this.removeEventListener(type, h);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- connection ------------------------------------------------------------

  /**
   * connect opens the WebSocket and resolves with the welcome message once the
   * server greets us. If the connection drops it is re-established with
   * backoff (unless `reconnect: false`) and the promise keeps waiting.
   */
  connect() {
    if (this._closed) return Promise.reject(new VeilError('closed', 'client is closed'));
    if (this.state === 'open') return Promise.resolve(this._welcome);
    const p = new Promise((resolve, reject) => this._connectWaiters.push({ resolve, reject }));
    if (this.state === 'idle') this._open();
    return p;
  }

  /** close ends the connection for good: no reconnect, every peer connection closed. */
  close() {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._retryTimer);
    this._stopPing();
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
    this._teardownConnection();
    const err = new VeilError('closed', 'client closed');
    for (const w of this._connectWaiters.splice(0)) w.reject(err);
    for (const m of [this._rooms, this._publishes, this._plays]) {
      for (const e of m.values()) for (const w of e.waiters.splice(0)) w.reject(err);
      m.clear();
    }
    this.state = 'closed';
    this._emit('close', { code: 1000, reason: 'closed by client' });
  }

  _open() {
    this.state = this._attempt === 0 ? 'connecting' : 'reconnecting';
    const WS = this.options.WebSocket || globalThis.WebSocket;
    let ws;
    let url = this.url;
    if (this._resuming && this._resumeToken) {
      const u = new URL(url);
      u.searchParams.set('resume', this._resumeToken);
      url = u.href;
    }
    try {
      ws = new WS(url);
    } catch (err) {
      this._emit('error', { error: new VeilError('connect-failed', String(err && err.message || err)) });
      this._scheduleReconnect(1006, '');
      return;
    }
    this._ws = ws;
    ws.onmessage = (ev) => this._onMessage(ev);
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._onSocketClosed(ev.code, ev.reason);
    };
    ws.onerror = () => { /* onclose follows and handles it */ };
  }

  _onSocketClosed(code, reason) {
    this._stopPing();
    const wasOpen = this.state === 'open';
    if (this.options.reconnect && !this._closed && this._resumeToken && (wasOpen || this._resuming)) {
      // Keep the peers and the id: the server parks our session for its
      // grace window, and the next welcome says whether it was resumed.
      if (wasOpen) {
        this._resuming = true;
        this._attempt = 0;
        this.state = 'reconnecting';
        this._emit('reconnecting', { attempt: 1, delay: RESUME_FIRST_DELAY_MS, code, reason, resuming: true });
        clearTimeout(this._retryTimer);
        this._retryTimer = setTimeout(() => { if (!this._closed) this._open(); }, RESUME_FIRST_DELAY_MS);
        this._attempt = 1;
        return;
      }
      this._scheduleReconnect(code, reason);
      return;
    }
    this._resuming = false;
    this._outbox = [];
    this._teardownConnection();
    if (this._closed) return;
    if (!this.options.reconnect) {
      this.state = 'closed';
      this._closed = true;
      const err = new VeilError('disconnected', `connection closed (${code})`);
      for (const w of this._connectWaiters.splice(0)) w.reject(err);
      for (const m of [this._rooms, this._publishes, this._plays]) {
        for (const e of m.values()) for (const w of e.waiters.splice(0)) w.reject(err);
        m.clear();
      }
      this._emit('close', { code, reason });
      return;
    }
    if (wasOpen) this._attempt = 0;
    this._scheduleReconnect(code, reason);
  }

  _scheduleReconnect(code, reason) {
    const attempt = this._attempt++;
    // "Equal jitter": half fixed, half random, so a server restart does not
    // get every client back in the same millisecond.
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this.state = 'reconnecting';
    this._emit('reconnecting', { attempt: attempt + 1, delay, code, reason });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      if (!this._closed) this._open();
    }, delay);
  }

  // Forget everything tied to the old connection: the peer id, the members,
  // the peer connections and the outstanding rids. The desired rooms,
  // publishes and plays stay, to be re-sent after the next welcome.
  _teardownConnection() {
    for (const peer of [...this._peers.values()]) this._closePeer(peer);
    for (const [room, members] of this._members) {
      for (const id of members.keys()) this._emit('peer-left', { room, peer: id, reason: 'disconnected' });
    }
    this._members.clear();
    for (const req of this._requests.values()) {
      // leave/unpublish are satisfied by the disconnect itself.
      if (req.kind === 'leave' || req.kind === 'unpublish') req.resolve({ type: req.kind === 'leave' ? 'left' : 'unpublished' });
    }
    this._requests.clear();
    for (const m of [this._rooms, this._publishes, this._plays]) {
      for (const e of m.values()) e.done = e.sent = false;
    }
    this.id = null;
    this._resumeToken = null;
  }

  /**
   * drop closes the WebSocket as a network drop would (close code 4000, not a
   * goodbye), so the session is resumed: calls go on. For tests and demos,
   * and for an application that knows its network changed.
   */
  drop() {
    const ws = this._ws;
    if (!ws || this.state !== 'open') return false;
    this._ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(4000, 'dropped'); } catch { /* ignore */ }
    this._onSocketClosed(4000, 'dropped');
    return true;
  }

  _send(msg) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1 || this.state !== 'open') return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  _startPing() {
    this._stopPing();
    this._pingTimer = setInterval(() => {
      if (!this._send({ type: 'ping' })) return;
      clearTimeout(this._pongTimer);
      this._pongTimer = setTimeout(() => {
        // Nothing heard since the ping: the socket is dead even if the
        // browser has not noticed yet. Closing it triggers a reconnect.
        const ws = this._ws;
        if (ws) {
          this._ws = null;
          try { ws.close(4000, 'ping timeout'); } catch { /* ignore */ }
          this._onSocketClosed(4000, 'ping timeout');
        }
      }, PONG_TIMEOUT_MS);
    }, PING_INTERVAL_MS);
  }

  _stopPing() {
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    this._pingTimer = this._pongTimer = null;
  }

  // ---- requests --------------------------------------------------------------

  _request(kind, key, msg) {
    const rid = String(++this._rid);
    return new Promise((resolve, reject) => {
      this._requests.set(rid, { kind, key, resolve, reject });
      if (!this._send({ ...msg, rid })) {
        this._requests.delete(rid);
        reject(new VeilError('disconnected', 'not connected'));
      }
    });
  }

  // Sends the join/publish/play for one desired entry and settles its waiters.
  _sendEntry(kind, key, entry) {
    const field = kind === 'join' ? 'room' : 'stream';
    const msg = { type: kind, [field]: key };
    if (entry.token) msg.token = entry.token;
    const rid = String(++this._rid);
    entry.sent = true;
    this._requests.set(rid, {
      kind, key,
      resolve: (reply) => {
        entry.done = true;
        entry.reply = reply;
        for (const w of entry.waiters.splice(0)) w.resolve(reply);
      },
      reject: (err) => {
        const map = kind === 'join' ? this._rooms : kind === 'publish' ? this._publishes : this._plays;
        if (map.get(key) === entry) map.delete(key);
        const waiters = entry.waiters.splice(0);
        if (waiters.length === 0) this._emit('error', { error: err, room: kind === 'join' ? key : undefined, stream: kind === 'join' ? undefined : key });
        for (const w of waiters) w.reject(err);
      },
    });
    this._send({ ...msg, rid });
  }

  _desire(kind, map, key, opts) {
    if (this._closed) return Promise.reject(new VeilError('closed', 'client is closed'));
    if (typeof key !== 'string' || key === '') return Promise.reject(new VeilError('bad-message', `${kind}: name must be a non-empty string`));
    let entry = map.get(key);
    const token = opts && opts.token;
    if (entry && entry.done && (!token || token === entry.token)) {
      return Promise.resolve(entry.reply);
    }
    if (!entry) {
      entry = { token, waiters: [], done: false, sent: false, reply: null };
      map.set(key, entry);
    } else if (token && token !== entry.token) {
      entry.token = token;
      entry.sent = false; // send again with the new token
    }
    const p = new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
    if (this.state === 'open' && !entry.sent) this._sendEntry(kind, key, entry);
    else if (this.state === 'idle') this._open();
    // Otherwise it is sent after the next welcome.
    return p;
  }

  /**
   * join enters a room. Resolves with {room, peers} once joined; the client then
   * connects to every member. Survives reconnects: the room is re-joined.
   */
  join(room, { token } = {}) {
    return this._desire('join', this._rooms, room, { token });
  }

  /** leave exits a room and closes connections to its members (unless shared otherwise). */
  async leave(room) {
    const entry = this._rooms.get(room);
    this._rooms.delete(room);
    if (entry) for (const w of entry.waiters.splice(0)) w.reject(new VeilError('left', 'left the room before joining'));
    this._dropRoom(room);
    if (this.state !== 'open') return { type: 'left', room };
    try {
      return await this._request('leave', room, { type: 'leave', room });
    } catch (err) {
      if (err.code === 'not-in-room' || err.code === 'disconnected') return { type: 'left', room };
      throw err;
    }
  }

  /**
   * publish announces a stream ID. Viewers that play it get the local media
   * (setLocalStream). Resolves with {stream} once published.
   */
  publish(stream, { token } = {}) {
    return this._desire('publish', this._publishes, stream, { token });
  }

  /** unpublish ends a stream: its viewers get stream-ended. */
  async unpublish(stream) {
    const entry = this._publishes.get(stream);
    this._publishes.delete(stream);
    if (entry) for (const w of entry.waiters.splice(0)) w.reject(new VeilError('unpublished', 'unpublished before published'));
    for (const peer of [...this._peers.values()]) {
      if (peer.viewerOf.delete(stream)) this._maybeClosePeer(peer);
    }
    if (this.state !== 'open') return { type: 'unpublished', stream };
    // Protocol v1 does not promise a reply to unpublish; veil sends
    // "unpublished" with our rid. Wait for it briefly, not forever.
    const reply = this._request('unpublish', stream, { type: 'unpublish', stream });
    const timeout = new Promise((resolve) => setTimeout(resolve, UNPUBLISH_REPLY_WAIT_MS, { type: 'unpublished', stream }));
    try {
      return await Promise.race([reply, timeout]);
    } catch (err) {
      if (err.code === 'disconnected') return { type: 'unpublished', stream };
      throw err;
    }
  }

  /**
   * play asks for a stream. Resolves with {type:"playing", stream, peer} when
   * the publisher is live, or {type:"waiting", stream} when it is not yet: the
   * `playing` event fires once it appears.
   */
  play(stream, { token } = {}) {
    return this._desire('play', this._plays, stream, { token });
  }

  /**
   * stop stops watching a stream locally: closes the connection to its
   * publisher. The protocol has no "unplay", so the server keeps the play
   * pending until this client disconnects; later `playing` for it is ignored.
   */
  stop(stream) {
    const entry = this._plays.get(stream);
    this._plays.delete(stream);
    if (entry) for (const w of entry.waiters.splice(0)) w.reject(new VeilError('stopped', 'stopped before playing'));
    for (const peer of [...this._peers.values()]) {
      if (peer.publisherOf.delete(stream)) this._maybeClosePeer(peer);
    }
  }

  /** rooms returns the rooms the client wants to be in. */
  get rooms() { return [...this._rooms.keys()]; }

  /** members returns the peer ids currently in a room (excluding us). */
  members(room) {
    const m = this._members.get(room);
    return m ? [...m.keys()] : [];
  }

  /** peers returns the ids of every remote peer we hold a connection to. */
  get peers() { return [...this._peers.keys()]; }

  /** getPeerConnection returns the RTCPeerConnection to a peer, or null. */
  getPeerConnection(peerId) {
    const p = this._peers.get(peerId);
    return p ? p.pc : null;
  }

  /** remoteStream returns the MediaStream holding every track received from a peer, or null. */
  remoteStream(peerId) {
    const p = this._peers.get(peerId);
    return p ? p.remoteStream : null;
  }

  // ---- media and data ------------------------------------------------------------

  /**
   * setLocalStream sets the media sent to room members and to viewers of our
   * streams (not to publishers we play). Pass null to stop sending. Applies to
   * current connections (renegotiating as needed) and to future ones.
   */
  setLocalStream(stream) {
    this._localStream = stream || null;
    for (const peer of this._peers.values()) this._syncTracks(peer);
  }

  /** localStream is the stream set with setLocalStream, or null. */
  get localStream() { return this._localStream; }

  /** send sends data (string, Blob, ArrayBuffer, view) on the data channel to a peer; false if not open. */
  send(peerId, data) {
    const p = this._peers.get(peerId);
    if (!p || !p.dc || p.dc.readyState !== 'open') return false;
    p.dc.send(data);
    return true;
  }

  /** broadcast sends data to every peer whose data channel is open; returns how many got it. */
  broadcast(data) {
    let n = 0;
    for (const id of this._peers.keys()) if (this.send(id, data)) n++;
    return n;
  }

  /** debug sends a debug message (e.g. stats) to a peer; the server sanitizes it. */
  debug(peerId, data) {
    return this._send({ type: 'debug', to: peerId, data: data || {} });
  }

  /**
   * getSelectedPair returns the candidate types of the selected ICE pair to a
   * peer, e.g. {local: "relay", remote: "relay", ...}, or null if none yet.
   */
  async getSelectedPair(peerId) {
    const p = this._peers.get(peerId);
    if (!p) return null;
    return selectedPair(p.pc);
  }

  // ---- incoming messages -------------------------------------------------------

  _onMessage(ev) {
    clearTimeout(this._pongTimer);
    if (typeof ev.data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    let req;
    if (msg.rid !== undefined) {
      req = this._requests.get(msg.rid);
      if (req) this._requests.delete(msg.rid);
    } else {
      req = this._takeRequestFor(msg);
    }

    switch (msg.type) {
      case 'welcome': return this._onWelcome(msg);
      case 'pong': return;
      // Under operator tokens without one in the URL, the TURN credentials
      // come after the first authorized join/publish/play, before its reply.
      case 'ice-servers':
        if (Array.isArray(msg.iceServers)) this.iceServers = msg.iceServers;
        return;
      case 'error': {
        // A refused resume: the welcome before it said so, and the client
        // has started over already.
        if (msg.code === 'resume-failed') return;
        const err = new VeilError(msg.code || 'error', msg.message || msg.code, msg.ref);
        if (req) return req.reject(err);
        this._emit('error', { error: err });
        return;
      }
      case 'joined': return this._onJoined(msg, req);
      case 'left':
        if (req) req.resolve(msg);
        this._emit('left', { room: msg.room });
        return;
      case 'peer-joined': return this._onPeerJoined(msg);
      case 'peer-left': return this._onPeerLeft(msg);
      case 'published':
        if (req) req.resolve(msg);
        this._emit('published', { stream: msg.stream });
        return;
      case 'unpublished':
        if (req) req.resolve(msg);
        this._emit('unpublished', { stream: msg.stream });
        return;
      case 'stream-added':
        {
          const m = this._members.get(msg.room);
          const info = m && m.get(msg.peer);
          if (info) info.stream = msg.stream;
        }
        this._emit('stream-added', { room: msg.room, peer: msg.peer, stream: msg.stream });
        return;
      case 'viewer': return this._onViewer(msg);
      case 'playing': return this._onPlaying(msg, req);
      case 'waiting':
        if (req) req.resolve(msg);
        this._emit('waiting', { stream: msg.stream });
        return;
      case 'stream-ended': return this._onStreamEnded(msg);
      case 'signal': return this._onSignal(msg);
      case 'debug':
        this._emit('debug', { peer: msg.from, data: msg.data });
        return;
      default:
        if (req) req.resolve(msg);
    }
  }

  // A direct reply should echo our rid; if one does not, match it by what it
  // answers so a promise is never left hanging.
  _takeRequestFor(msg) {
    const kinds = { joined: ['join', msg.room], left: ['leave', msg.room], published: ['publish', msg.stream], unpublished: ['unpublish', msg.stream], waiting: ['play', msg.stream], playing: ['play', msg.stream] }[msg.type];
    if (!kinds) return undefined;
    for (const [rid, r] of this._requests) {
      if (r.kind === kinds[0] && r.key === kinds[1]) {
        this._requests.delete(rid);
        return r;
      }
    }
    return undefined;
  }

  _onWelcome(msg) {
    const resumed = this._resuming && msg.resumed === true && msg.id === this.id;
    if (this._resuming && !resumed) {
      // Too late, or the server does not know us any more: start over, as
      // after any reconnect, and tell the application its peers are gone.
      this._resuming = false;
      this._outbox = [];
      this._teardownConnection();
    }
    this._resumeToken = typeof msg.resume === 'string' && msg.resume ? msg.resume : null;
    if (resumed) return this._onResumed(msg);
    this.id = msg.id;
    this.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
    this.iceTransportPolicy = msg.iceTransportPolicy === 'relay' ? 'relay' : 'all';
    this.policy = msg.policy || null;
    this._welcome = msg;
    this.state = 'open';
    this._attempt = 0;
    this._startPing();
    if (msg.version !== PROTOCOL_VERSION) {
      this._emit('error', { error: new VeilError('version', `server speaks protocol version ${msg.version}, client ${PROTOCOL_VERSION}`) });
    }
    this._emit('welcome', { id: msg.id, iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy, policy: this.policy });
    for (const w of this._connectWaiters.splice(0)) w.resolve(msg);
    // Re-establish what the application asked for, in dependency order.
    for (const [k, e] of this._rooms) this._sendEntry('join', k, e);
    for (const [k, e] of this._publishes) this._sendEntry('publish', k, e);
    for (const [k, e] of this._plays) this._sendEntry('play', k, e);
  }

  // The server resumed our session: same id, rooms, streams and plays, and
  // what was sent to us meanwhile follows. Peer connections stay as they
  // are; only those whose ICE failed or disconnected while signaling was
  // down get an ICE restart (with the fresh TURN credentials) — or all of
  // them when the session moved to another node of a cluster (other TURN
  // URLs): the relays on the node we left end one grace window later.
  _onResumed(msg) {
    this._resuming = false;
    const urls = (list) => JSON.stringify((list || []).map((s) => [].concat(s.urls || []).sort()).sort());
    const before = urls(this.iceServers);
    this.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : this.iceServers;
    const moved = msg.moved === true || (this.iceServers.length > 0 && urls(this.iceServers) !== before);
    this.iceTransportPolicy = msg.iceTransportPolicy === 'relay' ? 'relay' : 'all';
    this.policy = msg.policy || this.policy;
    this._welcome = msg;
    this.state = 'open';
    this._attempt = 0;
    this._startPing();
    // Replies to requests in flight at the drop may be lost: leave and
    // unpublish are done anyway, the rest is sent again (idempotent).
    for (const req of this._requests.values()) {
      if (req.kind === 'leave' || req.kind === 'unpublish') req.resolve({ type: req.kind === 'leave' ? 'left' : 'unpublished' });
    }
    this._requests.clear();
    this._emit('welcome', { id: msg.id, iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy, policy: this.policy, resumed: true });
    this._emit('resumed', { id: msg.id });
    for (const w of this._connectWaiters.splice(0)) w.resolve(msg);
    for (const m of this._outbox.splice(0)) this._send(m);
    for (const [k, e] of this._rooms) if (!e.done) this._sendEntry('join', k, e);
    for (const [k, e] of this._publishes) if (!e.done) this._sendEntry('publish', k, e);
    for (const [k, e] of this._plays) if (!e.done) this._sendEntry('play', k, e);
    for (const peer of this._peers.values()) {
      const ice = peer.pc.iceConnectionState;
      try { peer.pc.setConfiguration({ ...peer.pc.getConfiguration(), iceServers: this.iceServers }); } catch { /* ignore */ }
      if ((moved || ice === 'failed' || ice === 'disconnected') && peer.pc.restartIce) peer.pc.restartIce();
    }
  }

  _onJoined(msg, req) {
    const room = msg.room;
    if (!this._rooms.has(room)) {
      // Left while the join was in flight: undo it.
      // (The waiters were already rejected by leave().)
      this._send({ type: 'leave', room });
      return;
    }
    const members = new Map();
    this._members.set(room, members);
    const peers = Array.isArray(msg.peers) ? msg.peers : [];
    for (const p of peers) {
      if (!p || typeof p.id !== 'string' || p.id === this.id) continue;
      members.set(p.id, { id: p.id, stream: p.stream });
    }
    if (req) req.resolve({ type: 'joined', room, peers: [...members.values()] });
    this._emit('joined', { room, peers: [...members.values()] });
    for (const info of members.values()) {
      this._emit('peer-joined', { room, peer: info.id, existing: true });
      if (info.stream) this._emit('stream-added', { room, peer: info.id, stream: info.stream });
      // The newcomer initiates: creating the connection adds the data channel
      // and our tracks, which fires negotiationneeded and sends the offer.
      const peer = this._getPeer(info.id, true);
      peer.rooms.add(room);
      this._syncTracks(peer);
    }
  }

  _onPeerJoined(msg) {
    const id = msg.peer && msg.peer.id;
    if (typeof id !== 'string' || id === this.id) return;
    const members = this._members.get(msg.room);
    if (!members) return;
    members.set(id, { id, stream: msg.peer.stream });
    // The newcomer offers; we answer. If a connection already exists (another
    // shared room, a stream), just widen it.
    const peer = this._peers.get(id);
    if (peer) {
      peer.rooms.add(msg.room);
      this._syncTracks(peer);
    }
    this._emit('peer-joined', { room: msg.room, peer: id, existing: false });
  }

  _onPeerLeft(msg) {
    const id = typeof msg.peer === 'string' ? msg.peer : msg.peer && msg.peer.id;
    const members = this._members.get(msg.room);
    if (members) members.delete(id);
    const peer = this._peers.get(id);
    if (peer) {
      peer.rooms.delete(msg.room);
      this._maybeClosePeer(peer);
    }
    this._emit('peer-left', { room: msg.room, peer: id });
  }

  _dropRoom(room) {
    const members = this._members.get(room);
    this._members.delete(room);
    if (!members) return;
    for (const id of members.keys()) {
      const peer = this._peers.get(id);
      if (peer) {
        peer.rooms.delete(room);
        this._maybeClosePeer(peer);
      }
      this._emit('peer-left', { room, peer: id, reason: 'left' });
    }
  }

  _onViewer(msg) {
    if (!this._publishes.has(msg.stream) || typeof msg.peer !== 'string') return;
    // The publisher offers to each viewer.
    const peer = this._getPeer(msg.peer, true);
    peer.viewerOf.add(msg.stream);
    this._syncTracks(peer);
    this._emit('viewer', { peer: msg.peer, stream: msg.stream });
  }

  _onPlaying(msg, req) {
    if (!this._plays.has(msg.stream)) return; // stopped; its waiters were rejected by stop()
    if (typeof msg.peer === 'string') {
      // The publisher will offer; the connection is created when it does,
      // but record the relation now in case it already exists.
      const peer = this._peers.get(msg.peer);
      if (peer) peer.publisherOf.add(msg.stream);
      else (this._expectedPublishers ||= new Map()).set(msg.peer, msg.stream);
    }
    if (req) req.resolve(msg);
    this._emit('playing', { stream: msg.stream, peer: msg.peer });
  }

  _onStreamEnded(msg) {
    for (const peer of [...this._peers.values()]) {
      if (peer.publisherOf.delete(msg.stream)) this._maybeClosePeer(peer);
    }
    if (this._expectedPublishers) {
      for (const [id, s] of this._expectedPublishers) if (s === msg.stream) this._expectedPublishers.delete(id);
    }
    this._emit('stream-ended', { stream: msg.stream });
  }

  _onSignal(msg) {
    const from = msg.from;
    const data = msg.data;
    if (typeof from !== 'string' || !data || typeof data !== 'object') return;
    if (data.sealed !== undefined) {
      this._emit('sealed', { peer: from, sealed: data.sealed });
      return;
    }
    // The server only forwards signals from peers we share a room or a
    // stream with, so an unknown sender is one whose announcement is still
    // in flight (or a publisher we play): create the connection on demand.
    const peer = this._getPeer(from, false);
    peer.chain = peer.chain.then(() => this._handleSignal(peer, data)).catch((err) => {
      this._emit('error', { error: new VeilError('webrtc', `signal from peer: ${err && err.message || err}`), peer: from });
    });
  }

  // ---- peer connections ----------------------------------------------------------

  _getPeer(id, initiate) {
    let peer = this._peers.get(id);
    if (peer) return peer;
    const pc = new RTCPeerConnection({
      ...(this.options.rtcConfig || {}),
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
    });
    peer = {
      id,
      pc,
      polite: this.id < id, // deterministic: exactly one side is polite
      makingOffer: false,
      ignoreOffer: false,
      settingRemoteAnswer: false,
      pendingCandidates: [],
      chain: Promise.resolve(),
      rooms: new Set(),
      viewerOf: new Set(), // streams of ours this peer views
      publisherOf: new Set(), // streams we play from this peer
      senders: new Map(), // kind -> RTCRtpSender
      remoteStream: new MediaStream(),
      seenCandidates: new Set(),
      dc: null,
      closed: false,
    };
    this._peers.set(id, peer);
    if (this._expectedPublishers && this._expectedPublishers.has(id)) {
      peer.publisherOf.add(this._expectedPublishers.get(id));
      this._expectedPublishers.delete(id);
    }
    for (const [room, members] of this._members) if (members.has(id)) peer.rooms.add(room);

    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this._signal(peer, { sdp: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      } catch (err) {
        if (!peer.closed) this._emit('error', { error: new VeilError('webrtc', `offer: ${err && err.message || err}`), peer: id });
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && !candidate.candidate) return; // per-generation end marker
      this._signal(peer, { candidate: candidate ? candidate.toJSON() : null });
    };
    pc.ontrack = ({ track }) => {
      peer.remoteStream.addTrack(track);
      track.addEventListener('ended', () => peer.remoteStream.removeTrack(track));
      this._emit('track', { peer: id, track, stream: peer.remoteStream });
    };
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      this._emit('connectionstatechange', { peer: id, state });
      if (state === 'failed') {
        // A viewer only tells us it is gone by going away; anyone else gets
        // an ICE restart (the offer goes through perfect negotiation).
        if (peer.rooms.size === 0 && peer.publisherOf.size === 0) this._closePeer(peer);
        else if (pc.restartIce) pc.restartIce();
      }
    };

    const dc = pc.createDataChannel(DATA_CHANNEL_LABEL, { negotiated: true, id: DATA_CHANNEL_ID });
    dc.binaryType = 'arraybuffer';
    peer.dc = dc;
    let opened = false;
    dc.onopen = () => {
      opened = true;
      this._emit('datachannel', { peer: id, channel: dc });
    };
    dc.onmessage = (ev) => this._emit('message', { peer: id, data: ev.data });
    dc.onclose = () => {
      // The remote closed its connection. Room members are removed by
      // peer-left; a viewer or a publisher has no such message.
      if (opened && !peer.closed && peer.rooms.size === 0) this._closePeer(peer);
    };

    if (initiate) this._syncTracks(peer);
    return peer;
  }

  // Makes the senders of a peer match the local stream (if this peer should
  // get our media). addTrack/replaceTrack fire negotiationneeded when needed.
  _syncTracks(peer) {
    if (peer.closed) return;
    const wants = peer.rooms.size > 0 || peer.viewerOf.size > 0;
    const stream = wants ? this._localStream : null;
    const tracks = new Map();
    if (stream) for (const t of stream.getTracks()) if (!tracks.has(t.kind)) tracks.set(t.kind, t);
    for (const [kind, sender] of peer.senders) {
      if (!tracks.has(kind) && sender.track) sender.replaceTrack(null).catch(() => {});
    }
    for (const [kind, track] of tracks) {
      const sender = peer.senders.get(kind);
      if (sender) {
        if (sender.track !== track) {
          sender.replaceTrack(track).catch(() => {});
          if (sender.setStreams) try { sender.setStreams(stream); } catch { /* ignore */ }
        }
      } else {
        peer.senders.set(kind, peer.pc.addTrack(track, stream));
      }
    }
  }

  _signal(peer, data) {
    if (peer.closed) return;
    const msg = { type: 'signal', to: peer.id, data };
    if (this._resuming) {
      // Sent once the session is resumed (or dropped with it if not).
      this._outbox.push(msg);
      if (this._outbox.length > RESUME_OUTBOX_MAX) this._outbox.shift();
      return;
    }
    this._send(msg);
  }

  _recordRemoteCandidate(peer, candidate, source) {
    if (!candidate || peer.seenCandidates.has(candidate)) return;
    peer.seenCandidates.add(candidate);
    this._emit('remote-candidate', { peer: peer.id, candidate, source, type: candidateType(candidate) });
  }

  async _handleSignal(peer, data) {
    if (peer.closed) return;
    const pc = peer.pc;
    if (data.sdp) {
      const desc = data.sdp;
      if (desc.sdp) for (const c of sdpCandidates(desc.sdp)) this._recordRemoteCandidate(peer, c, 'sdp');
      // Perfect negotiation (https://developer.mozilla.org/docs/Web/API/WebRTC_API/Perfect_negotiation).
      const readyForOffer = !peer.makingOffer && (pc.signalingState === 'stable' || peer.settingRemoteAnswer);
      const collision = desc.type === 'offer' && !readyForOffer;
      peer.ignoreOffer = !peer.polite && collision;
      if (peer.ignoreOffer) return;
      peer.settingRemoteAnswer = desc.type === 'answer';
      try {
        await pc.setRemoteDescription(desc);
      } finally {
        peer.settingRemoteAnswer = false;
      }
      await this._flushCandidates(peer);
      if (desc.type === 'offer') {
        // Tracks added before the offer are matched to its m-lines; tracks
        // added now go into the answer where possible.
        this._syncTracks(peer);
        await pc.setLocalDescription();
        this._signal(peer, { sdp: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      }
      return;
    }
    const list = data.candidates !== undefined ? (Array.isArray(data.candidates) ? data.candidates : []) : ('candidate' in data ? [data.candidate] : []);
    for (const c of list) {
      if (c && c.candidate) this._recordRemoteCandidate(peer, c.candidate, 'trickle');
      if (!pc.remoteDescription) {
        peer.pendingCandidates.push(c);
        continue;
      }
      await this._addCandidate(peer, c);
    }
  }

  async _flushCandidates(peer) {
    const list = peer.pendingCandidates.splice(0);
    for (const c of list) await this._addCandidate(peer, c);
  }

  async _addCandidate(peer, c) {
    try {
      if (c) await peer.pc.addIceCandidate(c);
      else await peer.pc.addIceCandidate(); // end of candidates
    } catch (err) {
      // Candidates of an offer we ignored (glare), or an end marker an
      // older browser does not understand, are expected to fail.
      if (!peer.ignoreOffer && c) throw err;
    }
  }

  _maybeClosePeer(peer) {
    if (peer.rooms.size === 0 && peer.viewerOf.size === 0 && peer.publisherOf.size === 0) {
      this._closePeer(peer);
    } else {
      this._syncTracks(peer);
    }
  }

  _closePeer(peer) {
    if (peer.closed) return;
    peer.closed = true;
    this._peers.delete(peer.id);
    try { peer.dc && peer.dc.close(); } catch { /* ignore */ }
    try { peer.pc.close(); } catch { /* ignore */ }
    for (const t of peer.remoteStream.getTracks()) peer.remoteStream.removeTrack(t);
    // pc.close() fires no connectionstatechange; tell listeners ourselves.
    this._emit('connectionstatechange', { peer: peer.id, state: 'closed' });
  }
}

/**
 * selectedPair reads the selected ICE candidate pair of an RTCPeerConnection
 * from getStats: {local, remote} candidate types plus protocols, or null.
 */
export async function selectedPair(pc) {
  if (!pc || pc.connectionState === 'closed') return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) {
    stats.forEach((s) => {
      if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = pair || s;
    });
  }
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId) || {};
  const remote = stats.get(pair.remoteCandidateId) || {};
  return {
    local: local.candidateType || '',
    remote: remote.candidateType || '',
    localProtocol: local.protocol || '',
    remoteProtocol: remote.protocol || '',
    relayProtocol: local.relayProtocol || '',
    state: pair.state || '',
  };
}

export default VeilClient;

// Browser test of forced relay against smuggled addresses, with Firefox as
// the victim: Debian's firefox-esr (puppeteer-core over WebDriver BiDi)
// joins a room and ignores veil's relay hint (iceTransportPolicy 'all'), as
// a client veil does not control might. Attackers in the same room (another
// Firefox page, relay only) offer with SDP lines that a lenient parser reads
// as candidates or addresses, and trickle candidates and side fields that
// carry addresses. All of it runs once in veil's native protocol and once in
// its VDO.Ninja dialect. Run by cmd/veil's
// TestFirefoxVictimSmuggledCandidates.
//
// Firefox's SDP parser is lenient: it reads
//   a=:candidate:2 1 UDP 2122260223 127.66.0.1 54322 typ host
// as a candidate and lists it in getStats, so a victim that ignores the relay
// hint would send connectivity checks from its own address to whatever the
// attacker wrote there. veil must not forward such a line.
//
// Every smuggled address is in 127.66.0.0/16, on one port where this script
// listens with a canary UDP socket per address: a leak sends traffic nowhere
// but this machine, and is counted. veil's relay is VEIL_RELAY_IP
// (127.0.0.2). The victim's origin holds a camera permission, as a video-call
// site the user trusts would, so Firefox gathers loopback host candidates
// and would really send its checks from 127.0.0.1 to a smuggled candidate.
//
// It proves, in each dialect, for a victim that answers every offer:
//  1. the control attacker's offer (clean SDP) is answered and the call
//     connects: a data channel message goes both ways, the victim's selected
//     pair has a relay remote candidate on veil's relay address;
//  2. each attacker whose offer carries one smuggled line is either answered
//     (Firefox accepted what veil forwarded) or refused by veil with an
//     error: never silently lost;
//  3. no remote candidate in any of the victim's getStats reports is other
//     than relay on veil's relay address;
//  4. no signal frame the victim received contains a smuggled address, or
//     any IPv4 address other than veil's relay and 0.0.0.0 (SDP lines, trickle
//     candidates, sdpMid, usernameFragment, VDO's session, vector, type and
//     streamID: every JSON field);
//  5. no datagram reached a canary;
//  6. the pages requested nothing but veil's origin.
//
// Extra environment: VEIL_RELAY_IP (required), VEIL_FIREFOX (the browser,
// default /usr/bin/firefox-esr).

import dgram from 'node:dgram';
import { assert, env, foreignRequests, launchFirefox, main, step } from './browser.mjs';

const BASE = env('VEIL_URL').replace(/\/+$/, '');
const RELAY_IP = env('VEIL_RELAY_IP');
const WS_URL = `${BASE.replace(/^http/, 'ws')}/ws`;

// SMUGGLED marks every address the attacker writes: none may reach the
// victim.
const SMUGGLED = '127.66.';

// Bounds of the waits in the pages (guards against hangs, not targets).
const ANSWER_MS = 15_000;
const CONNECT_MS = 20_000;
// CANARY_TRIES bounds the search for a port free on every smuggled address.
const CANARY_TRIES = 5;
// CHECK_GRACE_MS lets the victim's connectivity checks arrive before the
// canaries are read.
const CHECK_GRACE_MS = 1_000;

// DIALECTS: the protocols the victim and the attackers speak, in turn.
const DIALECTS = ['native', 'vdo'];

// OFFER_LINES: one attacker per line, inserted after the m= line of a real
// Firefox offer. Firefox 153 reads the first three as host candidates; the
// others are spellings another parser may accept.
const OFFER_LINES = [
  ['leading colon', 'a=:candidate:2 1 UDP 2122260223 127.66.0.1 @port@ typ host'],
  ['leading space', 'a= candidate:2 1 UDP 2122260223 127.66.0.2 @port@ typ host'],
  ['leading tab', 'a=\tcandidate:2 1 UDP 2122260223 127.66.0.3 @port@ typ host'],
  ['leading form feed', 'a=\fcandidate:2 1 UDP 2122260223 127.66.0.4 @port@ typ host'],
  ['leading no-break space', 'a=\u00a0candidate:2 1 UDP 2122260223 127.66.0.5 @port@ typ host'],
  ['leading em space', 'a=\u2003candidate:2 1 UDP 2122260223 127.66.0.6 @port@ typ host'],
  ['colon srflx', 'a=:candidate:3 1 UDP 1686052607 127.66.0.7 @port@ typ srflx raddr 127.66.0.8 rport @port@'],
  ['upper case', 'A=CANDIDATE:2 1 UDP 2122260223 127.66.0.9 @port@ TYP HOST'],
  ['relay label, own address', 'a=candidate:4 1 UDP 92217087 127.66.0.10 @port@ typ relay raddr 0.0.0.0 rport 0'],
  ['colon rtcp', 'a=:rtcp:@port@ IN IP4 127.66.0.11'],
  ['spaced rtcp', 'a= rtcp:@port@ IN IP4 127.66.0.12'],
];

// TRICKLES: what the control attacker trickles after the answer. @relay@ is
// replaced in the page by a relay candidate the attacker really gathered
// (veil keeps it), so a side field travels on a candidate veil forwards.
const TRICKLES = [
  { candidate: { candidate: 'candidate:9 1 udp 2122260223 127.66.1.1 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'a=candidate:9 1 udp 2122260223 127.66.1.2 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: ' candidate:9 1 udp 2122260223 127.66.1.3 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'a=:candidate:9 1 udp 2122260223 127.66.1.4 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'CANDIDATE:9 1 UDP 2122260223 127.66.1.5 @port@ TYP HOST', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'candidate:9  1 udp 2122260223 127.66.1.6 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'candidate:9 1 udp 2122260223 127.66.1.7 @port@ typ host\r\na=candidate:9 1 udp 2122260223 127.66.1.8 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'candidate:9 1 udp 1686052607 127.66.1.9 @port@ typ srflx raddr 127.66.1.10 rport @port@', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'candidate:9 1 udp 92217087 127.66.1.11 @port@ typ relay raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidate: { candidate: 'candidate:9 1 udp 2122260223 ::ffff:127.66.1.12 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 } },
  { candidates: [{ candidate: 'candidate:9 1 udp 2122260223 127.66.1.13 @port@ typ host', sdpMid: '0', sdpMLineIndex: 0 }] },
  { candidate: { candidate: '@relay@', sdpMid: '127.66.1.14', sdpMLineIndex: 0 } },
  { candidate: { candidate: '@relay@', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: '127.66.1.15' } },
  { candidate: { candidate: '@relay@ network-id 127.66.1.16', sdpMid: '0', sdpMLineIndex: 0 } },
];

// VDO_TRICKLES: the VDO.Ninja dialect forwards more side fields with a
// candidate (rebuilt from known fields, but their values as sent).
const VDO_TRICKLES = [
  { candidate: { candidate: '@relay@', sdpMid: '0', sdpMLineIndex: 0 }, session: '127.66.2.1' },
  { candidate: { candidate: '@relay@', sdpMid: '0', sdpMLineIndex: 0 }, vector: '127.66.2.2' },
  { candidate: { candidate: '@relay@', sdpMid: '0', sdpMLineIndex: 0 }, type: '127.66.2.3' },
  { candidate: { candidate: '@relay@', sdpMid: '0', sdpMLineIndex: 0 }, streamID: '127.66.2.4' },
];

// openCanaries binds a UDP socket on every address, all on one port, and
// counts the datagrams each receives: a victim that acts on a smuggled
// candidate sends its connectivity checks there.
async function openCanaries(addresses) {
  const bind = (address, port) => new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind({ address, port, exclusive: true }, () => resolve(sock));
  });
  for (let attempt = 0; ; attempt++) {
    const socks = [];
    try {
      socks.push(await bind(addresses[0], 0));
      const port = socks[0].address().port;
      for (const a of addresses.slice(1)) socks.push(await bind(a, port));
      const hits = {};
      socks.forEach((sock, i) => sock.on('message', () => { hits[addresses[i]] = (hits[addresses[i]] || 0) + 1; }));
      return { port, hits, close: () => socks.forEach((sock) => sock.close()) };
    } catch (err) {
      socks.forEach((sock) => sock.close());
      if (attempt >= CANARY_TRIES) throw err; // the port is taken on one of them: try another
    }
  }
}

// installSignaling (in the page) defines window.openSignaling(dialect,
// room): a connection to veil in the native protocol ('native', /ws) or the
// VDO.Ninja dialect ('vdo', /vdo) that has joined room, with one interface
// for both: iceServers, hint (the iceTransportPolicy veil asks for), peers
// (the members before us), joined (those after us, in order), send(to,
// data, rid) and the callbacks onSignal(from, data, raw) and onError(code,
// rid). data is {sdp} | {candidate} | {candidates}, plus side fields.
function installSignaling() {
  window.openSignaling = (dialect, room) => new Promise((resolve, reject) => {
    const s = { iceServers: [], hint: null, peers: null, joined: [], onSignal: () => {}, onError: () => {} };
    const base = location.origin.replace(/^http/, 'ws');
    const ws = new WebSocket(`${base}/${dialect === 'vdo' ? 'vdo' : 'ws'}`);
    const out = (m) => ws.send(JSON.stringify(m));
    ws.onerror = () => reject(new Error(`${dialect}: WebSocket error`));
    if (dialect === 'vdo') {
      s.send = (to, data) => {
        const { sdp, ...rest } = data;
        out({ UUID: to, ...(sdp ? { description: sdp } : {}), ...rest });
      };
      ws.onopen = async () => {
        // The dialect has no greeting: ICE servers come over HTTP, and the
        // SDK's forceTURN is the client's own choice.
        const c = await (await fetch('/turn-credentials')).json();
        s.iceServers = [{ urls: c.uris, username: c.username, credential: c.password }];
        s.hint = 'relay';
        out({ request: 'joinroom', roomid: room });
      };
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.request === 'listing') {
          s.peers = m.list.map((x) => x.UUID);
          resolve(s);
        } else if (m.request === 'someonejoined') {
          s.joined.push(m.UUID);
        } else if (m.request === 'error') {
          s.onError(m.code, null);
        } else if (!m.request && m.UUID) {
          const { UUID, description, ...rest } = m;
          s.onSignal(UUID, { ...(description ? { sdp: description } : {}), ...rest }, ev.data);
        }
      };
    } else {
      s.send = (to, data, rid) => out({ type: 'signal', to, data, ...(rid ? { rid } : {}) });
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.type === 'welcome') {
          s.iceServers = m.iceServers;
          s.hint = m.iceTransportPolicy;
          out({ type: 'join', room });
        } else if (m.type === 'joined') {
          s.peers = m.peers.map((x) => x.id);
          resolve(s);
        } else if (m.type === 'peer-joined') {
          s.joined.push(m.peer.id);
        } else if (m.type === 'error') {
          s.onError(m.code, m.rid);
        } else if (m.type === 'signal') {
          s.onSignal(m.from, m.data, ev.data);
        }
      };
    }
  });
}

// END_FOUNDATION marks the control attacker's last trickle: a real relay
// candidate (veil forwards it) with this foundation. Once the victim has
// it, every trickle veil forwarded before it has been applied.
const END_FOUNDATION = '424242';

// installVictim (in the page) defines window.V: a client that joins a room
// and answers every offer with iceTransportPolicy 'all', whatever veil
// says, and records every signal frame as received.
function installVictim(endFoundation) {
  const V = { signals: [], offers: {}, answered: {}, srdErrors: {}, addErrors: [], errors: [],
    configs: {}, pcs: new Map(), chains: new Map(), ended: {}, local: [] };
  V.connect = async (dialect, room) => {
    const s = V.sig = await window.openSignaling(dialect, room);
    s.onError = (code, rid) => V.errors.push(`server error ${code}${rid ? ` (rid ${rid})` : ''}`);
    s.onSignal = (from, data, raw) => {
      V.signals.push({ from, raw });
      const prev = V.chains.get(from) || Promise.resolve();
      V.chains.set(from, prev.then(() => V.onSignal(from, data)).catch((e) => V.errors.push(`${from}: ${e.message}`)));
    };
    return s.hint;
  };
  V.onSignal = async (from, data) => {
    if (data.sdp) {
      if (data.sdp.type !== 'offer') throw new Error(`unexpected ${data.sdp.type}`);
      V.offers[from] = (V.offers[from] || 0) + 1;
      let pc = V.pcs.get(from);
      if (!pc) {
        // veil's TURN server allows a peer id 8 allocations: the first
        // call gets it, later ones (offers that only need an answer) gather
        // host candidates only.
        const config = { iceServers: V.pcs.size === 0 ? V.sig.iceServers : [], iceTransportPolicy: 'all' };
        pc = new RTCPeerConnection(config);
        V.configs[from] = config.iceTransportPolicy;
        V.pcs.set(from, pc);
        pc.onicecandidate = (e) => {
          if (e.candidate && e.candidate.candidate) V.local.push(e.candidate.candidate);
          if (e.candidate) V.sig.send(from, { candidate: e.candidate.toJSON() });
        };
        pc.ondatachannel = (e) => {
          e.channel.onmessage = (x) => e.channel.send(`pong:${x.data}`);
        };
      }
      try {
        await pc.setRemoteDescription(data.sdp);
      } catch (e) {
        V.srdErrors[from] = e.message;
        return;
      }
      await pc.setLocalDescription(await pc.createAnswer());
      V.sig.send(from, { sdp: { type: 'answer', sdp: pc.localDescription.sdp } });
      V.answered[from] = true;
      return;
    }
    const cands = data.candidates || (data.candidate ? [data.candidate] : []);
    const pc = V.pcs.get(from);
    for (const c of cands) {
      if (!pc) throw new Error('a candidate before any offer');
      if (c.candidate && c.candidate.startsWith(`candidate:${endFoundation} `)) V.ended[from] = true;
      // Firefox refuses some (an unknown sdpMid or ufrag): that is its
      // business, not a failure of veil.
      await pc.addIceCandidate(c).catch((e) => V.addErrors.push(`${c.candidate}: ${e.message}`));
    }
  };
  // V.report: per connection, its remote candidates and selected pair.
  V.report = async () => {
    const out = {};
    for (const [from, pc] of V.pcs) {
      const st = await pc.getStats();
      const r = { state: pc.connectionState, policy: V.configs[from], remote: [], pair: null };
      st.forEach((x) => {
        if (x.type === 'remote-candidate') r.remote.push({ type: x.candidateType, address: x.address, port: x.port, protocol: x.protocol });
      });
      st.forEach((x) => {
        if (x.type === 'candidate-pair' && x.state === 'succeeded' && (x.selected || x.nominated)) {
          const l = st.get(x.localCandidateId);
          const rc = st.get(x.remoteCandidateId);
          r.pair = { local: l && l.candidateType, remote: rc && rc.candidateType, remoteAddress: rc && rc.address };
        }
      });
      out[from] = r;
    }
    return out;
  };
  Object.defineProperty(window, 'V', { value: V });
}

// installAttacker (in the page) defines window.A: join(dialect, room) opens
// one connection (the victim is the first member of the room); attack(i,
// ...) has connection i offer to the victim from a relay-only
// RTCPeerConnection, with line inserted after the m= line, then, if
// answered, send trickles and the end marker and ping over a data channel.
function installAttacker(endFoundation) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const until = async (ms, fn) => {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
    return true;
  };
  const A = { sigs: [], pcs: [] };
  A.join = async (dialect, room) => {
    const s = await window.openSignaling(dialect, room);
    if (!s.peers.length) throw new Error('the room was empty');
    A.sigs.push(s);
    return A.sigs.length - 1;
  };
  A.attack = async (i, { line, trickles, answerMs, connectMs }) => {
    const s = A.sigs[i];
    const victim = s.peers[0];
    const t0 = Date.now();
    const r = { answered: false, refused: null, trickleRefused: [], pong: null, errors: [], t: {} };
    const mark = (k) => { r.t[k] = Date.now() - t0; };
    let answer = null;
    const queued = [];
    s.onSignal = (from, data) => {
      if (data.sdp && data.sdp.type === 'answer') answer = data.sdp;
      for (const c of data.candidates || (data.candidate ? [data.candidate] : [])) queued.push(c);
    };
    s.onError = (code, rid) => {
      // The offer is the first thing sent: an error before the answer
      // refuses it (the VDO.Ninja dialect has no rid).
      if (!answer && (rid === 'offer' || !rid)) r.refused = code;
      else r.trickleRefused.push(code); // veil may refuse a smuggling trickle
    };
    try {
      // Only the control call needs TURN: the others want an answer, and
      // veil's TURN server caps live allocations per client address.
      const pc = new RTCPeerConnection({ iceServers: connectMs ? s.iceServers : [], iceTransportPolicy: 'relay' });
      A.pcs.push(pc);
      const dc = pc.createDataChannel('veil');
      dc.onmessage = (x) => { r.pong = x.data; };
      await pc.setLocalDescription(await pc.createOffer());
      await until(answerMs, () => pc.iceGatheringState === 'complete');
      mark('gathered');
      let sdp = pc.localDescription.sdp;
      const relay = sdp.split('\r\n').find((l) => /^a=candidate:.* typ relay/.test(l));
      if (!relay && connectMs) throw new Error('gathered no relay candidate');
      if (line) {
        const lines = sdp.split('\r\n');
        lines.splice(lines.findIndex((l) => l.startsWith('m=')) + 1, 0, line);
        sdp = lines.join('\r\n');
      }
      s.send(victim, { sdp: { type: 'offer', sdp } }, 'offer');
      if (!(await until(answerMs, () => answer || r.refused)) || r.refused) return r;
      r.answered = true;
      mark('answer');
      await pc.setRemoteDescription(answer);
      if (!connectMs) {
        pc.close(); // only the answer was wanted
        return r;
      }
      const applied = new Set();
      const apply = () => {
        for (const c of queued) {
          if (applied.has(c)) continue;
          applied.add(c);
          pc.addIceCandidate(c).catch((e) => r.errors.push(`addIceCandidate: ${e.message}`));
        }
        return false;
      };
      apply();
      const cand = relay.slice(2);
      for (const t of trickles) s.send(victim, JSON.parse(JSON.stringify(t).replaceAll('@relay@', cand)));
      if (trickles.length) {
        const end = cand.replace(/^candidate:\S+/, `candidate:${endFoundation}`);
        s.send(victim, { candidate: { candidate: end, sdpMid: '0', sdpMLineIndex: 0 } });
      }
      await until(connectMs, () => apply() || dc.readyState === 'open');
      if (dc.readyState === 'open') {
        mark('open');
        dc.send('ping');
        await until(connectMs, () => r.pong !== null);
      }
    } catch (e) {
      r.errors.push(e.message);
    }
    return r;
  };
  Object.defineProperty(window, 'A', { value: A });
}

const IPV4 = /(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9.])/g;

main(async () => {
  const smuggled = [...new Set(JSON.stringify([OFFER_LINES, TRICKLES, VDO_TRICKLES]).match(/127\.66\.\d+\.\d+/g))];
  const canaries = await openCanaries(smuggled);
  const withPort = (x) => JSON.parse(JSON.stringify(x).replaceAll('@port@', String(canaries.port)));
  step(`${smuggled.length} canary UDP sockets on the smuggled addresses, port ${canaries.port}`);
  const failures = [];
  try {
    // The victim's origin holds a camera permission, as on a video-call
    // site the user trusts: Firefox then gathers loopback host candidates.
    const ff = await launchFirefox('firefox', { mediaOrigins: [new URL(BASE).origin] });
    step(`${await ff.browser.version()} started, headless, loopback-only prefs`);
    for (const dialect of DIALECTS) {
      const trickles = dialect === 'vdo' ? [...TRICKLES, ...VDO_TRICKLES] : TRICKLES;
      failures.push(...(await run(ff, dialect, withPort(OFFER_LINES), withPort(trickles), canaries)).map((f) => `${dialect}: ${f}`));
    }
    // Nothing left veil's origin; nothing threw. Firefox reports a call
    // whose ICE failed as a page error: the smuggled offers' calls are left
    // to fail (only their answer was wanted).
    const bad = foreignRequests(ff, BASE);
    if (bad.length) failures.push(`the pages requested other hosts than veil: ${JSON.stringify(bad)}`);
    const problems = ff.problems.filter((p) => !/: uncaught: WebRTC: ICE failed\b/.test(p));
    if (problems.length) failures.push(`a page threw: ${JSON.stringify(problems)}`);
  } finally {
    canaries.close();
  }
  assert(failures.length === 0, `${failures.length} problem(s) with veil between the attacker and the victim:\n  - ${failures.join('\n  - ')}`);
}, { deadline: 120_000 });

// run plays the whole attack in one dialect, in two fresh pages, and
// returns what went wrong.
async function run(ff, dialect, offerLines, trickles, canaries) {
  const room = `smuggle-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const say = (text) => step(`${dialect}: ${text}`);
  const failures = [];
  const fail = (msg, detail) => failures.push(detail === undefined ? msg : `${msg}: ${JSON.stringify(detail)}`);
  const hitsBefore = { ...canaries.hits };

  const victim = await ff.newPage(`${dialect} victim`);
  const attacker = await ff.newPage(`${dialect} attacker`);
  for (const p of [victim, attacker]) {
    const resp = await p.goto(`${BASE}/healthz`);
    assert(resp && resp.status() === 200, 'GET /healthz failed');
    await p.evaluate(installSignaling);
  }
  await victim.evaluate(installVictim, END_FOUNDATION);
  await attacker.evaluate(installAttacker, END_FOUNDATION);

  const hint = await victim.evaluate((d, r) => window.V.connect(d, r), dialect, room);
  assert(hint === 'relay', `${dialect}: the victim was told iceTransportPolicy ${hint}, want relay (forced relay is the default)`);
  say('the victim joined; it was told to use relay, it will use all');

  // One connection per attacker, joined in order, so that the victim's
  // list of later members names them; then the control call first, alone:
  // it is the victim's connection with TURN.
  const jobs = [['control', null], ...offerLines];
  for (const _ of jobs) await attacker.evaluate((d, r) => window.A.join(d, r), dialect, room);
  const ids = await victim.evaluate((n) => new Promise((resolve) => {
    const poll = () => (window.V.sig.joined.length >= n ? resolve(window.V.sig.joined) : setTimeout(poll, 50));
    poll();
  }), jobs.length);
  const nameOf = Object.fromEntries(ids.map((id, i) => [id, jobs[i][0]]));
  const opts = { answerMs: ANSWER_MS };
  const control = { name: 'control', id: ids[0],
    ...(await attacker.evaluate((o) => window.A.attack(0, o), { ...opts, line: null, trickles, connectMs: CONNECT_MS })) };
  const results = [control, ...(await attacker.evaluate((jobs, o) => Promise.all(jobs.map(([, line], i) =>
    window.A.attack(i + 1, { ...o, line, trickles: [], connectMs: 0 }))), offerLines, opts))
    .map((r, i) => ({ name: offerLines[i][0], id: ids[i + 1], ...r }))];

  // Wait for the control's end marker: every trickle before it is applied.
  const deadline = Date.now() + ANSWER_MS;
  while (control.answered && !(await victim.evaluate((id) => window.V.ended[id], control.id)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const v = await victim.evaluate(async () => ({
    report: await window.V.report(), signals: window.V.signals, offers: window.V.offers, answered: window.V.answered,
    srdErrors: window.V.srdErrors, addErrors: window.V.addErrors, errors: window.V.errors, ended: window.V.ended, local: window.V.local,
  }));

  // 1. The control call: answered, connected, relay on veil's relay.
  const cr = v.report[control.id];
  if (!control.answered || !v.answered[control.id]) fail('control: the victim did not answer the clean offer', control);
  else if (control.pong !== 'pong:ping') fail('control: no data channel round trip', { control, report: cr });
  else if (!cr || !cr.pair || cr.pair.remote !== 'relay' || cr.pair.remoteAddress !== RELAY_IP) fail(`control: the victim's selected pair is not relay on ${RELAY_IP}`, cr);
  else say(`control: answered and connected (data channel round trip), victim's selected pair ${cr.pair.local}/${cr.pair.remote} on ${cr.pair.remoteAddress} (attacker's ms: ${JSON.stringify(control.t)})`);
  if (control.answered && !v.ended[control.id]) fail('control: the end marker after the trickles never reached the victim');
  if (control.trickleRefused.length) say(`control: veil refused ${control.trickleRefused.length} of its trickles (${[...new Set(control.trickleRefused)].join(', ')})`);
  if (control.errors.length) fail('control: attacker page errors', control.errors);

  // The victim really ignores the hint: it gathered host candidates, on
  // loopback too, so a smuggled candidate would get its connectivity checks.
  const hosts = v.local.filter((c) => / typ host/.test(c));
  if (!hosts.some((c) => / (127\.0\.0\.1|::1) /.test(c))) fail('the victim gathered no loopback host candidate (is the camera permission for its origin in place?)', v.local.length);
  else say(`the victim gathered ${hosts.length} host candidates (loopback among them) and ${v.local.length - hosts.length} others`);

  // 2. Each smuggled offer: answered or refused, never lost.
  for (const r of results.slice(1)) {
    if (v.srdErrors[r.id]) fail(`${r.name}: veil forwarded an offer Firefox could not parse`, v.srdErrors[r.id]);
    else if (r.refused) say(`${r.name}: veil refused the offer (${r.refused})`);
    else if (r.answered && v.answered[r.id]) say(`${r.name}: forwarded, the victim answered`);
    else fail(`${r.name}: the offer was neither answered nor refused`, { attacker: r, offersAtVictim: v.offers[r.id] || 0 });
    if (r.errors.length) fail(`${r.name}: attacker page errors`, r.errors);
  }

  // 3. getStats: every remote candidate is relay on veil's relay address.
  const pcs = Object.entries(v.report);
  if (pcs.length === 0) fail('the victim has no RTCPeerConnection');
  let remotes = 0;
  for (const [id, r] of pcs) {
    if (r.policy !== 'all') fail(`${nameOf[id]}: victim connection used policy ${r.policy}`);
    for (const c of r.remote) {
      remotes++;
      if (c.type !== 'relay' || c.address !== RELAY_IP) fail(`${nameOf[id]}: the victim's getStats lists a remote ${c.type} candidate at ${c.address}:${c.port}`, c);
    }
  }
  say(`victim getStats checked: ${pcs.length} connections, ${remotes} remote candidates`);

  // 4. No smuggled address, and no IPv4 address but the relay's and
  //    0.0.0.0, in any signal frame the victim received.
  for (const s of v.signals) {
    const from = nameOf[s.from] || s.from;
    if (s.raw.includes(SMUGGLED)) fail(`${from}: a signal frame reached the victim with a smuggled address`, s.raw.length > 600 ? s.raw.split('\\r\\n').filter((l) => l.includes(SMUGGLED)) : s.raw);
    const others = [...new Set((s.raw.match(IPV4) || []).filter((ip) => ip !== RELAY_IP && ip !== '0.0.0.0' && !ip.startsWith(SMUGGLED)))];
    if (others.length) fail(`${from}: a signal frame reached the victim with addresses ${others.join(', ')}`);
  }
  say(`${v.signals.length} signal frames checked for addresses`);
  if (v.errors.length) fail("the victim's handlers failed", v.errors);
  console.log(`  (${dialect}: Firefox refused ${v.addErrors.length} forwarded trickle candidates itself)`);

  // 5. The victim sent nothing to a smuggled address. Firefox checks a
  //    remote candidate as soon as it has answered; CHECK_GRACE_MS more
  //    gives a check (and its retransmissions) time to arrive.
  await new Promise((r) => setTimeout(r, CHECK_GRACE_MS));
  let leaked = 0;
  for (const [addr, n] of Object.entries(canaries.hits)) {
    const d = n - (hitsBefore[addr] || 0);
    if (d > 0) fail(`the victim sent ${d} datagrams to the smuggled address ${addr}:${canaries.port}`);
    leaked += d;
  }
  if (!leaked) say('no datagram reached a smuggled address');

  await Promise.all([victim.close(), attacker.close()].map((p) => p.catch(() => {})));
  return failures;
}

// Browser test of forced relay against smuggled addresses, with Firefox as
// the victim: Debian's firefox-esr (puppeteer-core over WebDriver BiDi)
// joins a room on veil's native protocol and ignores veil's relay hint
// (iceTransportPolicy 'all'), as a client veil does not control might. An
// attacker in the same room (a second Firefox page, relay only) offers with
// SDP lines that a lenient parser reads as candidates or addresses, and
// trickles candidates and side fields that carry addresses. Run by cmd/veil's
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
// It proves, for a victim that answers every offer:
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
//     candidates, sdpMid, usernameFragment: every JSON field);
//  5. the victim's pages requested nothing but veil's origin;
//  6. no datagram reached a canary.
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

// installVictim (in the page) defines window.V: a native-protocol client
// that joins a room and answers every offer with iceTransportPolicy 'all',
// whatever veil's welcome says, and records every signal frame as received.
function installVictim() {
  const V = { welcome: null, signals: [], offers: {}, answered: {}, srdErrors: {}, addErrors: [], errors: [],
    configs: {}, pcs: new Map(), chains: new Map(), pings: {}, ended: {}, local: [] };
  V.send = (m) => V.ws.send(JSON.stringify(m));
  V.connect = (url, room) => new Promise((resolve, reject) => {
    V.ws = new WebSocket(url);
    V.ws.onerror = () => reject(new Error('victim: WebSocket error'));
    V.ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'welcome') {
        V.welcome = m;
        V.send({ type: 'join', room });
      } else if (m.type === 'joined') {
        resolve(V.welcome.id);
      } else if (m.type === 'signal') {
        V.signals.push({ from: m.from, raw: ev.data });
        const prev = V.chains.get(m.from) || Promise.resolve();
        V.chains.set(m.from, prev.then(() => V.onSignal(m.from, m.data))
          .catch((e) => V.errors.push(`${m.from}: ${e.message}`)));
      } else if (m.type === 'error') {
        V.errors.push(`server error: ${ev.data}`);
      }
    };
  });
  V.onSignal = async (from, data) => {
    if (data.sdp) {
      if (data.sdp.type !== 'offer') throw new Error(`unexpected ${data.sdp.type}`);
      V.offers[from] = (V.offers[from] || 0) + 1;
      let pc = V.pcs.get(from);
      if (!pc) {
        // veil's TURN server allows a peer id 8 allocations: the first
        // call gets it, later ones (offers that only need an answer) gather
        // host candidates only.
        const config = { iceServers: V.pcs.size === 0 ? V.welcome.iceServers : [], iceTransportPolicy: 'all' };
        pc = new RTCPeerConnection(config);
        V.configs[from] = config.iceTransportPolicy;
        V.pcs.set(from, pc);
        pc.onicecandidate = (e) => e.candidate && e.candidate.candidate && V.local.push(e.candidate.candidate);
        pc.addEventListener('icecandidate', (e) => V.send({ type: 'signal', to: from, data: { candidate: e.candidate ? e.candidate.toJSON() : null } }));
        pc.ondatachannel = (e) => {
          e.channel.onmessage = (x) => {
            V.pings[from] = x.data;
            e.channel.send(`pong:${x.data}`);
          };
        };
      }
      try {
        await pc.setRemoteDescription(data.sdp);
      } catch (e) {
        V.srdErrors[from] = e.message;
        return;
      }
      await pc.setLocalDescription(await pc.createAnswer());
      V.send({ type: 'signal', to: from, data: { sdp: { type: 'answer', sdp: pc.localDescription.sdp } } });
      V.answered[from] = true;
      return;
    }
    const cands = data.candidates || (data.candidate !== undefined ? [data.candidate] : []);
    const pc = V.pcs.get(from);
    for (const c of cands) {
      if (c === null) {
        V.ended[from] = true;
        continue;
      }
      if (!pc) throw new Error('a candidate before any offer');
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

// installAttacker (in the page) defines window.A.attack: one native-protocol
// connection with a relay-only RTCPeerConnection that offers to the victim
// (the first member of the room) with line inserted after the m= line, then,
// if answered, sends trickles and end-of-candidates and pings over a data
// channel.
function installAttacker() {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const until = async (what, ms, fn) => {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
    return true;
  };
  async function attack({ url, room, line, trickles, answerMs, connectMs }) {
    const t0 = Date.now();
    const r = { id: null, victim: null, answered: false, refused: null, pong: null, errors: [], t: {} };
    const mark = (k) => { r.t[k] = Date.now() - t0; };
    const ws = new WebSocket(url);
    const send = (m) => ws.send(JSON.stringify(m));
    let welcome = null;
    let answer = null;
    const queued = [];
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'welcome') {
        welcome = m;
        r.id = m.id;
        send({ type: 'join', room });
      } else if (m.type === 'joined') {
        r.victim = m.peers.length ? m.peers[0].id : '';
      } else if (m.type === 'signal') {
        if (m.data.sdp && m.data.sdp.type === 'answer') answer = m.data.sdp;
        for (const c of m.data.candidates || (m.data.candidate ? [m.data.candidate] : [])) queued.push(c);
      } else if (m.type === 'error') {
        if (m.rid === 'offer') r.refused = m.code;
        else r.errors.push(`server error: ${ev.data}`);
      }
    };
    try {
      if (!(await until('joined', answerMs, () => r.victim !== null))) throw new Error('no joined');
      if (!r.victim) throw new Error('the room was empty');
      const pc = new RTCPeerConnection({ iceServers: welcome.iceServers, iceTransportPolicy: 'relay' });
      A.pcs.push(pc);
      const dc = pc.createDataChannel('veil');
      dc.onmessage = (x) => { r.pong = x.data; };
      await pc.setLocalDescription(await pc.createOffer());
      await until('gathering', answerMs, () => pc.iceGatheringState === 'complete');
      mark('gathered');
      let sdp = pc.localDescription.sdp;
      const relay = sdp.split('\r\n').find((l) => /^a=candidate:.* typ relay/.test(l));
      if (!relay) throw new Error('gathered no relay candidate');
      if (line) {
        const lines = sdp.split('\r\n');
        lines.splice(lines.findIndex((l) => l.startsWith('m=')) + 1, 0, line);
        sdp = lines.join('\r\n');
      }
      send({ type: 'signal', to: r.victim, data: { sdp: { type: 'offer', sdp } }, rid: 'offer' });
      if (!(await until('answer', answerMs, () => answer || r.refused))) return r;
      if (r.refused) return r;
      r.answered = true;
      mark('answer');
      await pc.setRemoteDescription(answer);
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
      for (const t of trickles) {
        const data = JSON.parse(JSON.stringify(t).replaceAll('@relay@', relay.slice(2)));
        send({ type: 'signal', to: r.victim, data });
      }
      if (trickles.length) send({ type: 'signal', to: r.victim, data: { candidate: null } });
      if (!connectMs) {
        pc.close(); // only the answer was wanted
      } else {
        await until('open', connectMs, () => apply() || dc.readyState === 'open');
        if (dc.readyState === 'open') {
          mark('open');
          dc.send('ping');
          await until('pong', connectMs, () => r.pong !== null);
        }
      }
    } catch (e) {
      r.errors.push(e.message);
    }
    return r;
  }
  const A = { pcs: [], attack };
  Object.defineProperty(window, 'A', { value: A });
}

const IPV4 = /(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9.])/g;

main(async () => {
  const smuggled = [...new Set(JSON.stringify([OFFER_LINES, TRICKLES]).match(/127\.66\.\d+\.\d+/g))];
  const canaries = await openCanaries(smuggled);
  const withPort = (x) => JSON.parse(JSON.stringify(x).replaceAll('@port@', String(canaries.port)));
  step(`${smuggled.length} canary UDP sockets on the smuggled addresses, port ${canaries.port}`);
  try {
    await run(withPort(OFFER_LINES), withPort(TRICKLES), canaries);
  } finally {
    canaries.close();
  }
}, { deadline: 90_000 });

async function run(offerLines, trickles, canaries) {
  const room = `smuggle-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  // The victim's origin holds a camera permission, as on a video-call site
  // the user trusts: Firefox then gathers loopback host candidates too.
  const ff = await launchFirefox('firefox', { mediaOrigins: [new URL(BASE).origin] });
  const victim = ff.page;
  const attacker = await ff.newPage('attacker');
  for (const p of [victim, attacker]) {
    const resp = await p.goto(`${BASE}/healthz`);
    assert(resp && resp.status() === 200, 'GET /healthz failed');
  }
  await victim.evaluate(installVictim);
  await attacker.evaluate(installAttacker);
  step(`${await ff.browser.version()} started, headless, loopback-only prefs`);

  await victim.evaluate((u, r) => window.V.connect(u, r), WS_URL, room);
  const hint = await victim.evaluate(() => window.V.welcome.iceTransportPolicy);
  assert(hint === 'relay', `veil's welcome told the victim iceTransportPolicy ${hint}, want relay (forced relay is the default)`);
  step('the victim joined; veil told it to use relay, it will use all');

  // The control call first, alone: it is the victim's connection with TURN.
  const attack = (jobs, base) => Promise.all(jobs.map(([name, line]) =>
    window.A.attack({ ...base, line }).then((r) => ({ name, ...r }))));
  const opts = { url: WS_URL, room, answerMs: ANSWER_MS };
  const [control] = await attacker.evaluate(attack, [['control', null]], { ...opts, trickles, connectMs: CONNECT_MS });
  const results = [control, ...(await attacker.evaluate(attack, offerLines, { ...opts, trickles: [], connectMs: 0 }))];

  // The control attacker's end-of-candidates follows its trickles, so once
  // the victim has it, every trickle veil forwarded has been applied.
  const deadline = Date.now() + ANSWER_MS;
  while (control.answered && !(await victim.evaluate((id) => window.V.ended[id], control.id)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const v = await victim.evaluate(async () => ({
    report: await window.V.report(), signals: window.V.signals, offers: window.V.offers, answered: window.V.answered,
    srdErrors: window.V.srdErrors, addErrors: window.V.addErrors, errors: window.V.errors, ended: window.V.ended, local: window.V.local,
  }));

  const failures = [];
  const fail = (msg, detail) => failures.push(detail === undefined ? msg : `${msg}: ${JSON.stringify(detail)}`);

  // 1. The control call: answered, connected, relay on veil's relay.
  const cr = v.report[control.id];
  if (!control.answered || !v.answered[control.id]) fail('control: the victim did not answer the clean offer', control);
  else if (control.pong !== 'pong:ping') fail('control: no data channel round trip', { control, report: cr });
  else if (!cr || !cr.pair || cr.pair.remote !== 'relay' || cr.pair.remoteAddress !== RELAY_IP) fail(`control: the victim's selected pair is not relay on ${RELAY_IP}`, cr);
  else step(`control: answered and connected (data channel round trip), victim's selected pair ${cr.pair.local}/${cr.pair.remote} on ${cr.pair.remoteAddress} (attacker's ms: ${JSON.stringify(control.t)})`);
  if (control.answered && !v.ended[control.id]) fail('control: the end-of-candidates after the trickles never reached the victim');

  // The victim really ignores the hint: it gathered host candidates, on
  // loopback too, so a smuggled candidate would get its connectivity checks.
  const hosts = v.local.filter((c) => / typ host/.test(c));
  if (!hosts.some((c) => / (127\.0\.0\.1|::1) /.test(c))) fail('the victim gathered no loopback host candidate (is the camera permission for its origin in place?)', v.local.length);
  else step(`the victim gathered ${hosts.length} host candidates (loopback among them) and ${v.local.length - hosts.length} others`);

  // 2. Each smuggled offer: answered or refused, never lost.
  for (const r of results.slice(1)) {
    const got = v.offers[r.id] || 0;
    if (v.srdErrors[r.id]) fail(`${r.name}: veil forwarded an offer Firefox could not parse`, v.srdErrors[r.id]);
    else if (r.refused) step(`${r.name}: veil refused the offer (${r.refused})`);
    else if (r.answered && v.answered[r.id]) step(`${r.name}: forwarded, the victim answered`);
    else fail(`${r.name}: the offer was neither answered nor refused`, { attacker: r, offersAtVictim: got });
    if (r.errors.length) fail(`${r.name}: attacker page errors`, r.errors);
  }

  // 3. getStats: every remote candidate is relay on veil's relay address.
  const pcs = Object.entries(v.report);
  if (pcs.length === 0) fail('the victim has no RTCPeerConnection');
  const nameOf = Object.fromEntries(results.map((r) => [r.id, r.name]));
  let remotes = 0;
  for (const [id, r] of pcs) {
    if (r.policy !== 'all') fail(`${nameOf[id]}: victim connection used policy ${r.policy}`);
    for (const c of r.remote) {
      remotes++;
      if (c.type !== 'relay' || c.address !== RELAY_IP) fail(`${nameOf[id]}: the victim's getStats lists a remote ${c.type} candidate at ${c.address}:${c.port}`, c);
    }
  }
  step(`victim getStats checked: ${pcs.length} connections, ${remotes} remote candidates`);

  // 4. No smuggled address, and no IPv4 address but the relay's and
  //    0.0.0.0, in any signal frame the victim received.
  for (const s of v.signals) {
    const from = nameOf[s.from] || s.from;
    if (s.raw.includes(SMUGGLED)) fail(`${from}: a signal frame reached the victim with a smuggled address`, s.raw.length > 600 ? s.raw.split('\\r\\n').filter((l) => l.includes(SMUGGLED)) : s.raw);
    const others = [...new Set((s.raw.match(IPV4) || []).filter((ip) => ip !== RELAY_IP && ip !== '0.0.0.0' && !ip.startsWith(SMUGGLED)))];
    if (others.length) fail(`${from}: a signal frame reached the victim with addresses ${others.join(', ')}`);
  }
  step(`${v.signals.length} signal frames checked for addresses`);

  // 5. Nothing left veil's origin; nothing threw.
  const bad = foreignRequests(ff, BASE);
  if (bad.length) fail('the pages requested other hosts than veil', bad);
  // Firefox reports a call whose ICE failed as a page error: the smuggled
  // offers' calls are left to fail (only their answer was wanted).
  const problems = ff.problems.filter((p) => !/: uncaught: WebRTC: ICE failed\b/.test(p));
  if (problems.length) fail('a page threw', problems);
  if (v.errors.length) fail("the victim's handlers failed", v.errors);
  console.log(`  (Firefox refused ${v.addErrors.length} forwarded trickle candidates itself)`);

  // 6. The victim sent nothing to a smuggled address. Firefox checks a
  //    remote candidate as soon as it has answered; CHECK_GRACE_MS more
  //    gives a check (and its retransmissions) time to arrive.
  await new Promise((r) => setTimeout(r, CHECK_GRACE_MS));
  for (const [addr, n] of Object.entries(canaries.hits)) fail(`the victim sent ${n} datagrams to the smuggled address ${addr}:${canaries.port}`);
  if (!Object.keys(canaries.hits).length) step('no datagram reached a smuggled address');

  assert(failures.length === 0, `${failures.length} problem(s) with veil between the attacker and the victim:\n  - ${failures.join('\n  - ')}`);
}

// Browser test of veil's PeerJS dialect: the real `peerjs` 1.5.5 client in
// Debian's Chromium against a real veil with its embedded TURN on loopback
// and forced relay. Run by cmd/veil's TestPeerJSBrowser.
//
// The test page is written into a page veil served (/healthz) and the
// peerjs bundle is served by Playwright under veil's origin, so the page
// talks to veil exactly as a PeerJS app hosted on veil's origin would: GET /peerjs/peerjs/id, the
// WebSocket at /peerjs/peerjs, and TURN credentials from /turn-credentials.
// The page sets what README's "Using veil with PeerJS" tells apps to set:
// host/port/path, config.iceServers from veil, iceTransportPolicy 'relay'.
//
// It proves:
//  1. a DataConnection carries messages both ways;
//  2. a MediaConnection delivers fake-camera video (frames presented and
//     currentTime advancing) both ways;
//  3. a taken id gives the client `unavailable-id`, an absent id
//     `peer-unavailable`;
//  4. every remote candidate the pages received (trickle and SDP) is relay
//     on veil's relay address with raddr 0.0.0.0 rport 0, no remote
//     description carries a real address, every RTCPeerConnection that
//     gathered used only veil's TURN with relay policy, the selected pair is
//     relay/relay, and the pages requested nothing from other hosts.
//
// Extra environment: VEIL_RELAY_IP, the TURN relay address (required);
// VEIL_URL_B, another node of the same cluster for page B (optional: then
// every step above runs with A and B on two nodes, TestPeerJSBrowserCluster).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assert, env, foreignRequests, launch, main, step, waitFor, recordWebRTC, videoFrames, parseCandidate } from './browser.mjs';

const BASE = env('VEIL_URL').replace(/\/+$/, '');
const BASE_B = (process.env.VEIL_URL_B || BASE).replace(/\/+$/, '');
const RELAY_IP = env('VEIL_RELAY_IP');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = fs.readFileSync(path.join(HERE, '..', 'node_modules', 'peerjs', 'dist', 'peerjs.min.js'));

// The test page. Its script is what a PeerJS app does, plus hooks (window.T)
// the test drives.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>veil PeerJS test</title>
<video id="remote" muted autoplay playsinline></video>
<script src="/__peerjs-test/peerjs.min.js"></script>
<script>
const T = window.T = { received: [], errors: [], peer: null, remote: null };

// The three changes README asks of a PeerJS app: veil's host/port/path, and
// ICE servers from veil with relay-only transport.
async function peerOptions() {
  const r = await fetch('/turn-credentials');
  if (r.status !== 200) throw new Error('turn-credentials: ' + r.status);
  const c = await r.json();
  return {
    host: location.hostname, port: Number(location.port), path: '/peerjs',
    config: {
      iceServers: [{ urls: c.uris, username: c.username, credential: c.password }],
      iceTransportPolicy: 'relay',
    },
    debug: 1,
  };
}

// open creates a Peer (with id, or asking veil for one) and resolves with
// {ok, id} on open or {ok: false, type} on the first error.
T.open = async (id) => {
  const opts = await peerOptions();
  const peer = id ? new Peer(id, opts) : new Peer(opts);
  const r = await new Promise((resolve) => {
    peer.once('open', (pid) => resolve({ ok: true, id: pid }));
    peer.once('error', (err) => resolve({ ok: false, type: err.type, message: String(err.message || err) }));
  });
  if (!r.ok) { peer.destroy(); return r; }
  T.peer = peer;
  peer.on('error', (err) => T.errors.push(err.type));
  peer.on('connection', (conn) => wire(conn));
  peer.on('call', async (call) => {
    call.answer(await camera());
    call.on('stream', show);
  });
  return r;
};

function wire(conn) {
  conn.on('open', () => conn.send('hello from ' + T.peer.id));
  conn.on('data', (d) => T.received.push({ from: conn.peer, data: d }));
}

const camera = () => navigator.mediaDevices.getUserMedia({ video: true, audio: false });

function show(stream) {
  const v = document.getElementById('remote');
  v.srcObject = stream;
  v.play().catch(() => {});
}

T.connect = (id) => wire(T.peer.connect(id));
T.call = async (id) => T.peer.call(id, await camera()).on('stream', show);
</script>
`;

// pcState (in the page) summarises every recorded RTCPeerConnection: its
// config, whether it ever gathered, and its selected candidate pair.
async function pcState() {
  const out = [];
  const { pcs, configs } = window.__veilTest;
  for (let i = 0; i < pcs.length; i++) {
    const pc = pcs[i];
    const s = { config: configs[i], gathered: pc.localDescription !== null, state: pc.connectionState, pair: null };
    if (pc.connectionState === 'connected') {
      const stats = await pc.getStats();
      let pair = null;
      stats.forEach((x) => {
        if (x.type === 'transport' && x.selectedCandidatePairId) pair = stats.get(x.selectedCandidatePairId);
      });
      if (pair) {
        const l = stats.get(pair.localCandidateId);
        const r = stats.get(pair.remoteCandidateId);
        s.pair = { local: l && l.candidateType, remote: r && r.candidateType, localAddress: l && l.address, remoteAddress: r && r.address };
      }
    }
    out.push(s);
  }
  return out;
}

async function openPage(name, base) {
  const b = await launch(name, { initScript: recordWebRTC });
  b.base = base;
  await b.context.route(`${base}/__peerjs-test/peerjs.min.js`, (r) => r.fulfill({ status: 200, contentType: 'text/javascript', body: BUNDLE }));
  // The document itself must come from veil's socket: Chromium's local
  // network access checks block a WebSocket to 127.0.0.1 from a document
  // Playwright fulfilled (it has no address, so it counts as public). So
  // load a real veil page, then write the test page into it: same origin,
  // same address space.
  const resp = await b.page.goto(`${base}/healthz`);
  assert(resp && resp.status() === 200, `${name}: GET /healthz failed`);
  await b.page.setContent(PAGE);
  await waitFor(b.page, `${name}: peerjs loaded`, () => typeof window.Peer === 'function' && window.T);
  return b;
}

async function assertRelayOnly(b) {
  const rec = await b.page.evaluate(() => ({ trickle: window.__veilTest.trickle, sdp: window.__veilTest.sdp, sdps: window.__veilTest.sdps }));
  assert(rec.trickle.length > 0, `${b.name}: no trickled remote candidate was received at all`);
  const all = [...rec.trickle.map((c) => ['trickle', c]), ...rec.sdp.map((c) => ['sdp', c])];
  for (const [source, s] of all) {
    const c = parseCandidate(s);
    assert(c.type === 'relay', `${b.name}: received a non-relay remote candidate (${source})`, s);
    assert(c.address === RELAY_IP, `${b.name}: remote relay candidate is not on veil's relay address ${RELAY_IP} (${source})`, s);
    assert(c.raddr === '0.0.0.0' && c.rport === '0', `${b.name}: remote candidate leaks a related address (${source})`, s);
  }
  for (const sdp of rec.sdps) {
    for (const line of sdp.split(/\r?\n/).filter((l) => l.startsWith('c=') || l.startsWith('o='))) {
      const ip = line.split(/\s+/).pop();
      assert(ip === '0.0.0.0' || ip === RELAY_IP, `${b.name}: a remote description has a real address in ${line}`);
    }
  }

  const pcs = await b.page.evaluate(pcState);
  const used = pcs.filter((p) => p.gathered);
  assert(used.length > 0, `${b.name}: no RTCPeerConnection gathered candidates`, pcs);
  for (const p of used) {
    assert(p.config.iceTransportPolicy === 'relay', `${b.name}: a connection gathered with iceTransportPolicy ${p.config.iceTransportPolicy}`, pcs);
    assert(p.config.urls.length > 0 && p.config.urls.every((u) => /^turns?:/.test(u) && !/peerjs\.com|google/.test(u)),
      `${b.name}: a connection gathered with ICE servers other than veil's TURN`, pcs);
  }
  // peerjs probes browser support with its built-in (third-party) ICE
  // servers at load; that probe must never have gathered.
  for (const p of pcs.filter((x) => !x.gathered)) {
    assert(p.state === 'closed' || p.state === 'new', `${b.name}: an unused RTCPeerConnection is ${p.state}`, pcs);
  }
  const pairs = pcs.filter((p) => p.pair).map((p) => p.pair);
  assert(pairs.length > 0, `${b.name}: no connected RTCPeerConnection with a selected pair`, pcs);
  for (const p of pairs) {
    assert(p.local === 'relay' && p.remote === 'relay' && p.localAddress === RELAY_IP && p.remoteAddress === RELAY_IP,
      `${b.name}: selected candidate pair is not relay/relay on ${RELAY_IP}`, pairs);
  }

  const bad = foreignRequests(b, b.base);
  assert(bad.length === 0, `${b.name}: the page requested other hosts than veil's origin`, bad);
  assert(b.problems.length === 0, `${b.name}: the page threw`, b.problems);
  return { trickle: rec.trickle.length, sdp: rec.sdp.length, pairs: pairs.length };
}

main(async () => {
  const A = await openPage('A', BASE);
  const B = await openPage('B', BASE_B);
  if (BASE_B !== BASE) step('A and B are on two nodes of one cluster');

  const a = await A.page.evaluate(() => window.T.open());
  assert(a.ok, 'A: peer did not open with an id from veil', a);
  assert(/^[0-9a-f]{36}$/.test(a.id), 'A: the id veil minted is not 144 random bits in hex', a.id);
  assert(A.requests.some((u) => new URL(u).pathname === '/peerjs/peerjs/id'), 'A: no GET /peerjs/peerjs/id seen', A.requests);
  assert(A.websockets.some((u) => new URL(u).pathname === '/peerjs/peerjs'), 'A: no WebSocket to /peerjs/peerjs seen', A.websockets);
  step(`A opens with an id minted by veil (GET /peerjs/peerjs/id, WebSocket /peerjs/peerjs)`);

  const taken = await B.page.evaluate((id) => window.T.open(id), a.id);
  assert(!taken.ok && taken.type === 'unavailable-id', "B: opening with A's id did not fail with unavailable-id", taken);
  step("B asking for A's id gets unavailable-id");

  const bName = `bob-${Date.now()}`;
  const b = await B.page.evaluate((id) => window.T.open(id), bName);
  assert(b.ok && b.id === bName, 'B: peer with a chosen id did not open', b);
  step('B opens with an id of its own choosing');

  await A.page.evaluate((id) => window.T.connect(id), bName);
  await waitFor(A.page, 'A: data from B', (id) => window.T.received.find((m) => m.from === id && m.data === `hello from ${id}`), { arg: bName, debug: () => window.T });
  await waitFor(B.page, 'B: data from A', (id) => window.T.received.find((m) => m.from === id && m.data === `hello from ${id}`), { arg: a.id, debug: () => window.T });
  step('a DataConnection carries messages both ways');

  await A.page.evaluate((id) => window.T.call(id), bName);
  const vB = await waitFor(B.page, 'B: frames in the video from A', videoFrames, { arg: '#remote', debug: () => window.T });
  const vA = await waitFor(A.page, 'A: frames in the video from B', videoFrames, { arg: '#remote', debug: () => window.T });
  step(`a MediaConnection delivers fake-camera video both ways (A sees ${vA.width}x${vA.height}, ${vA.totalVideoFrames} frames; B sees ${vB.width}x${vB.height}, ${vB.totalVideoFrames} frames)`);

  await A.page.evaluate(() => window.T.connect(`absent-${crypto.randomUUID()}`));
  await waitFor(A.page, 'A: peer-unavailable for an absent id', () => window.T.errors.includes('peer-unavailable'), { debug: () => window.T.errors });
  step('connecting to an absent id gives peer-unavailable (after the expire timeout)');

  for (const p of [A, B]) {
    const n = await assertRelayOnly(p);
    step(`${p.name}: all ${n.trickle} trickled and ${n.sdp} SDP remote candidates are relay on ${RELAY_IP} with raddr 0.0.0.0; ${n.pairs} selected pair(s) relay/relay; no request left veil's origin`);
  }
  const errs = await Promise.all([A, B].map((p) => p.page.evaluate(() => window.T.errors)));
  assert(errs[0].every((e) => e === 'peer-unavailable') && errs[1].length === 0, 'unexpected peer errors', errs);
});

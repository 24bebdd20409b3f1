// Browser test of PeerJS reconnects against veil: the real `peerjs` client
// in Debian's Chromium, relay forced through veil's embedded TURN on
// loopback. Run by cmd/veil's TestPeerJSReconnectBrowser.
//
//  1. A and B (ids of their choosing) have a call (video) and a
//     DataConnection;
//  2. A calls peer.disconnect(): its signaling socket closes, the call goes
//     on (video keeps arriving on both pages);
//  3. A calls peer.reconnect(): it opens again with the same id (veil
//     answers OPEN, as the PeerJS server does for the same id and token),
//     and B reaches A through veil again (a new DataConnection);
//  4. a second Peer with A's id and A's token, opened while A's socket is
//     live (a client whose old socket the server still knows), takes the id
//     over, as with the PeerJS server; with another token it gets
//     unavailable-id.
//
// Extra environment: VEIL_RELAY_IP, the TURN relay address (required).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, env, launch, main, step, waitFor, recordWebRTC, videoFrames } from './browser.mjs';

const BASE = env('VEIL_URL').replace(/\/+$/, '');
env('VEIL_RELAY_IP');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = fs.readFileSync(path.join(HERE, '..', 'node_modules', 'peerjs', 'dist', 'peerjs.min.js'));
const BUNDLE_URL = `${BASE}/__peerjs-test/peerjs.min.js`;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>veil PeerJS reconnect test</title>
<video id="remote" muted autoplay playsinline></video>
<script src="/__peerjs-test/peerjs.min.js"></script>
<script>
const T = window.T = { received: [], errors: [], events: [], peer: null };
async function peerOptions(extra) {
  const r = await fetch('/turn-credentials');
  const c = await r.json();
  return {
    host: location.hostname, port: Number(location.port), path: '/peerjs',
    config: { iceServers: [{ urls: c.uris, username: c.username, credential: c.password }], iceTransportPolicy: 'relay' },
    debug: 1, ...extra,
  };
}
function wire(conn) {
  conn.on('open', () => conn.send('hello from ' + T.peer.id));
  conn.on('data', (d) => T.received.push({ from: conn.peer, data: d }));
}
const camera = () => navigator.mediaDevices.getUserMedia({ video: true, audio: false });
function show(stream) { const v = document.getElementById('remote'); v.srcObject = stream; v.play().catch(() => {}); }
function opened(peer) {
  return new Promise((resolve) => {
    peer.once('open', (pid) => resolve({ ok: true, id: pid }));
    peer.once('error', (err) => resolve({ ok: false, type: err.type }));
  });
}
T.open = async (id, extra) => {
  const peer = new Peer(id, await peerOptions(extra));
  const r = await opened(peer);
  if (!r.ok) { peer.destroy(); return r; }
  T.peer = peer;
  peer.on('error', (err) => T.errors.push(err.type));
  peer.on('disconnected', () => T.events.push('disconnected'));
  peer.on('open', () => T.events.push('open'));
  peer.on('connection', (conn) => wire(conn));
  peer.on('call', async (call) => { call.answer(await camera()); call.on('stream', show); });
  return r;
};
T.token = () => T.peer.options.token;
T.connect = (id) => wire(T.peer.connect(id));
T.call = async (id) => T.peer.call(id, await camera()).on('stream', show);
T.disconnect = () => T.peer.disconnect();
T.reconnect = () => { const p = opened(T.peer); T.peer.reconnect(); return p; };
// other opens a second Peer in this page (the first stays) and reports how it went.
T.other = async (id, extra) => {
  const peer = new Peer(id, await peerOptions(extra));
  const r = await opened(peer);
  T.second = peer;
  return r;
};
</script>
`;

async function openPage(name) {
  const b = await launch(name, { initScript: recordWebRTC });
  await b.context.route(BUNDLE_URL, (r) => r.fulfill({ status: 200, contentType: 'text/javascript', body: BUNDLE }));
  const resp = await b.page.goto(`${BASE}/healthz`);
  assert(resp && resp.status() === 200, `${name}: GET /healthz failed`);
  await b.page.setContent(PAGE);
  await waitFor(b.page, `${name}: peerjs loaded`, () => typeof window.Peer === 'function' && window.T);
  return b;
}

const frames = (b, what) => waitFor(b.page, `${b.name}: frames in the video (${what})`, videoFrames, { arg: '#remote' });

main(async () => {
  const A = await openPage('A');
  const B = await openPage('B');
  const stamp = Date.now();
  const idA = `alice-${stamp}`;
  const idB = `bob-${stamp}`;
  assert((await A.page.evaluate((id) => window.T.open(id), idA)).ok, 'A did not open');
  assert((await B.page.evaluate((id) => window.T.open(id), idB)).ok, 'B did not open');
  await A.page.evaluate((id) => window.T.call(id), idB);
  let fA = (await frames(A, 'from B')).totalVideoFrames;
  let fB = (await frames(B, 'from A')).totalVideoFrames;
  step('A and B are in a call through veil (relay forced)');

  await A.page.evaluate(() => window.T.disconnect());
  await waitFor(A.page, 'A: disconnected', () => window.T.events.includes('disconnected') && window.T.peer.disconnected);
  const nA = (await frames(A, 'from B, A disconnected')).totalVideoFrames;
  const nB = (await frames(B, 'from A, A disconnected')).totalVideoFrames;
  assert(nA > fA && nB > fB, 'the call stopped when A disconnected from signaling', { before: [fA, fB], after: [nA, nB] });
  [fA, fB] = [nA, nB];
  step('A disconnects from veil (peer.disconnect()); the call goes on');

  const r = await A.page.evaluate(() => window.T.reconnect());
  assert(r.ok && r.id === idA, 'A: reconnect() did not open with the same id', r);
  await B.page.evaluate((id) => window.T.connect(id), idA);
  await waitFor(A.page, 'A: data from B after the reconnect', (id) => window.T.received.some((m) => m.from === id), { arg: idB, debug: () => window.T });
  await waitFor(B.page, 'B: data from A after the reconnect', (id) => window.T.received.some((m) => m.from === id), { arg: idA, debug: () => window.T });
  assert((await frames(A, 'from B, after reconnect')).totalVideoFrames > fA, 'video stopped after the reconnect');
  step('A reconnects (peer.reconnect()) with the same id, and B reaches it through veil again');

  const token = await A.page.evaluate(() => window.T.token());
  const wrong = await B.page.evaluate((id) => window.T.other(id, { token: 'another-token-1234' }), idA);
  assert(!wrong.ok && wrong.type === 'unavailable-id', "another token for A's live id did not get unavailable-id", wrong);
  const same = await B.page.evaluate(([id, tok]) => window.T.other(id, { token: tok }), [idA, token]);
  assert(same.ok && same.id === idA, "A's id and token, while A's socket is live, did not take the id over", same);
  step("A's id with A's token takes over a live socket (as with the PeerJS server); another token gets unavailable-id");

  const errs = await Promise.all([A, B].map((p) => p.page.evaluate(() => window.T.errors)));
  assert(errs[1].length === 0, 'B saw errors', errs);
  assert(A.problems.length === 0 && B.problems.length === 0, 'a page threw', [A.problems, B.problems]);
});

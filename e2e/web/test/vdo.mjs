// Browser test of veil's VDO.Ninja dialect: vdo.html (a plain WebSocket +
// RTCPeerConnection client of the dialect) in Debian's Chromium against a
// real veil with its embedded TURN on loopback and forced relay. Run by
// cmd/veil's TestVDOBrowser.
//
// The page is written into a page veil served (/healthz), as peerjs.mjs
// does, so it talks to veil from veil's own origin and address space.
//
// It proves:
//  1. a viewer that plays a stream before anyone seeds it waits, and is
//     offered the stream once a publisher seeds it (offerSDP);
//  2. fake-camera video frames arrive at the viewer;
//  3. every remote candidate the viewer received (trickled and in the
//     remote SDP) is relay on veil's relay address with raddr 0.0.0.0
//     rport 0, no remote description carries a real address in c=/o=,
//     every RTCPeerConnection used only veil's TURN with relay policy, the
//     selected pair is relay/relay, and no page requested another host.
//
// Extra environment: VEIL_RELAY_IP, the TURN relay address (required);
// VEIL_URL_B, another node of the same cluster for the publisher
// (optional: then the viewer and the publisher are on two nodes,
// TestVDOBrowserCluster).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assert, env, foreignRequests, launch, main, sleep, step, waitFor, videoFrames, parseCandidate } from './browser.mjs';

const BASE = env('VEIL_URL').replace(/\/+$/, '');
const BASE_B = (process.env.VEIL_URL_B || BASE).replace(/\/+$/, '');
const RELAY_IP = env('VEIL_RELAY_IP');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGE = fs.readFileSync(path.join(HERE, 'vdo.html'), 'utf8');

async function openPage(name, base) {
  const b = await launch(name);
  b.base = base;
  const resp = await b.page.goto(`${base}/healthz`);
  assert(resp && resp.status() === 200, `${name}: GET /healthz failed`);
  await b.page.setContent(PAGE);
  await waitFor(b.page, `${name}: page script loaded`, () => window.T && typeof window.T.connect === 'function');
  await b.page.evaluate(() => window.T.connect());
  return b;
}

// pcState (in the page) summarises each RTCPeerConnection: its config and
// its selected candidate pair.
async function pcState() {
  const out = [];
  let i = 0;
  for (const pc of window.T.pcs.values()) {
    const s = { config: window.T.configs[i++], state: pc.connectionState, pair: null };
    if (pc.connectionState === 'connected') {
      const stats = await pc.getStats();
      stats.forEach((x) => {
        if (x.type === 'transport' && x.selectedCandidatePairId) {
          const p = stats.get(x.selectedCandidatePairId);
          const l = stats.get(p.localCandidateId);
          const r = stats.get(p.remoteCandidateId);
          s.pair = { local: l && l.candidateType, remote: r && r.candidateType, localAddress: l && l.address, remoteAddress: r && r.address };
        }
      });
    }
    out.push(s);
  }
  return out;
}

async function assertRelayOnly(b, { mustTrickle }) {
  const rec = await b.page.evaluate(() => ({ trickle: window.T.trickle, sdp: window.T.sdpCands, sdps: window.T.remoteSDPs }));
  if (mustTrickle) assert(rec.trickle.length > 0, `${b.name}: no trickled remote candidate was received at all`, rec);
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
  assert(pcs.length > 0, `${b.name}: no RTCPeerConnection`, pcs);
  for (const p of pcs) {
    assert(p.config.iceTransportPolicy === 'relay', `${b.name}: a connection used iceTransportPolicy ${p.config.iceTransportPolicy}`, pcs);
    assert(p.config.urls.length > 0 && p.config.urls.every((u) => /^turns?:/.test(u)), `${b.name}: a connection used ICE servers other than veil's TURN`, pcs);
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
  const errs = await b.page.evaluate(() => window.T.errors);
  assert(errs.length === 0, `${b.name}: the page's handlers failed`, errs);
  return { trickle: rec.trickle.length, sdp: rec.sdp.length, pairs: pairs.length };
}

main(async () => {
  const stream = `cam${Date.now().toString(36)}`;
  const V = await openPage('viewer', BASE);
  const P = await openPage('publisher', BASE_B);
  if (BASE_B !== BASE) step('the viewer and the publisher are on two nodes of one cluster');
  assert(V.websockets.some((u) => new URL(u).pathname === '/vdo'), 'viewer: no WebSocket to /vdo seen', V.websockets);

  await V.page.evaluate((s) => window.T.view(s), stream);
  await sleep(500);
  const early = await V.page.evaluate(() => window.T.received);
  assert(early.length === 0, 'viewer: the server answered a play of an unseeded stream', early);
  step('the viewer plays a stream nobody seeds yet: the request waits, silently');

  await P.page.evaluate((s) => window.T.publish(s), stream);
  const offerSDP = await waitFor(P.page, 'publisher: offerSDP for the waiting viewer',
    () => window.T.received.find((m) => m.request === 'offerSDP'), { debug: () => window.T.received });
  step('the publisher seeds; veil asks it to offer to the waiting viewer (offerSDP)');

  const offer = await waitFor(V.page, 'viewer: the offer', () => window.T.received.find((m) => m.description && m.description.type === 'offer'),
    { debug: () => window.T.received });
  assert(offer.UUID && offer.UUID !== offerSDP.UUID, "viewer: the offer does not carry the publisher's UUID", offer);
  assert(offer.streamID === stream, 'viewer: the offer lost its streamID', offer);

  const v = await waitFor(V.page, 'viewer: frames in the video from the publisher', videoFrames,
    { arg: '#remote', debug: () => ({ received: window.T.received.map((m) => m.request || Object.keys(m).join(',')), errors: window.T.errors }) });
  step(`video frames arrive at the viewer (${v.width}x${v.height}, ${v.totalVideoFrames} frames)`);

  // Chromium writes the client's own address as raddr of its relay
  // candidates; what arrived above says veil rewrote it.
  const sent = await P.page.evaluate(() => window.T.local);
  const raddrs = [...new Set(sent.map((c) => parseCandidate(c).raddr))];
  step(`the publisher's browser gathered ${sent.length} candidates with raddr ${raddrs.join(', ')}`);

  const nv = await assertRelayOnly(V, { mustTrickle: true });
  step(`viewer: all ${nv.trickle} trickled and ${nv.sdp} SDP remote candidates are relay on ${RELAY_IP} with raddr 0.0.0.0; ${nv.pairs} selected pair(s) relay/relay; no request left veil's origin`);
  const np = await assertRelayOnly(P, { mustTrickle: true });
  step(`publisher: all ${np.trickle} trickled and ${np.sdp} SDP remote candidates are relay on ${RELAY_IP} with raddr 0.0.0.0; ${np.pairs} selected pair(s) relay/relay`);
});

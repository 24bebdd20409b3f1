// Browser test of veil's demo page (signaling/web) against a real veil with
// its embedded TURN on loopback and forced relay, in Debian's Chromium.
// Run by cmd/veil's TestDemoBrowser; see docs/CLIENT.md for the demo's
// test hooks (window.veilDemo) and element ids.
//
// It proves, independently of the demo's own hooks where it can (an init
// script records every RTCPeerConnection the page creates and every remote
// candidate and description it is given):
//  1. two pages in one room: chat crosses the data channel both ways, fake
//     camera video arrives with frames, and the selected candidate pair is
//     relay/relay on both pages;
//  2. a viewer plays a stream before its publisher exists (waiting) and
//     gets video once the publisher appears;
//  3. every remote candidate a page received (trickle and SDP) is a relay
//     candidate on veil's relay address with raddr 0.0.0.0 rport 0, and the
//     pages request nothing from any host but veil;
//  4. a screenshot mid-call (VEIL_ARTIFACTS/demo.png), and no horizontal
//     overflow at phone size (390x844).
//
// Extra environment: VEIL_RELAY_IP, the TURN relay address (required).

import crypto from 'node:crypto';
import path from 'node:path';
import {
  assert, env, foreignRequests, launch, main, sleep, step, waitFor, recordWebRTC, videoFrames, parseCandidate } from './browser.mjs';

// remoteVideo is the selector of the demo's <video> showing peer.
const remoteVideo = (peer) => `#videos video[data-testid="remote-video"][data-peer="${peer}"]`;

const BASE = env('VEIL_URL').replace(/\/+$/, '');
const VEIL_HOST = new URL(BASE).hostname;
const RELAY_IP = env('VEIL_RELAY_IP');
const ARTIFACTS = env('VEIL_ARTIFACTS');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
// How long a play must stay pending while nobody publishes: long enough
// for a wrongly delivered offer to show up.
const WAITING_HOLD_MS = 1500;


// selectedPairs (in the page) reads the selected ICE candidate pair of every
// connected RTCPeerConnection straight from getStats().
async function selectedPairs() {
  const out = [];
  for (const pc of window.__veilTest.pcs) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) continue;
    const l = stats.get(pair.localCandidateId);
    const r = stats.get(pair.remoteCandidateId);
    out.push({
      state: pair.state,
      local: l && l.candidateType,
      remote: r && r.candidateType,
      localAddress: l && l.address,
      remoteAddress: r && r.address,
      relayProtocol: l && l.relayProtocol,
    });
  }
  return out;
}


const snapshot = () => window.veilDemo.snapshot();


// loadsOnlyOwnOrigin returns what is wrong with csp, or '' if it keeps
// scripts, styles, images, fonts and media to the page's own origin (plus
// data:, blob: and mediastream:, which never leave the browser).
function loadsOnlyOwnOrigin(csp) {
  const dirs = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([k, ...v]) => [k.toLowerCase(), v]));
  const local = new Set(["'self'", "'none'", 'data:', 'blob:', 'mediastream:']);
  if (!dirs.has('default-src')) return 'has no default-src';
  for (const k of ['default-src', 'script-src', 'style-src', 'img-src', 'font-src', 'media-src']) {
    const bad = (dirs.get(k) || []).filter((v) => !local.has(v));
    if (bad.length) return `allows ${k} ${bad.join(' ')}`;
  }
  return '';
}

async function open(b, url, viewport) {
  const resp = await b.page.goto(url);
  assert(resp && resp.status() === 200, `${b.name}: GET ${url} returned ${resp && resp.status()}`);
  const csp = resp.headers()['content-security-policy'] || '';
  const cspProblem = loadsOnlyOwnOrigin(csp);
  assert(!cspProblem, `${b.name}: the demo's Content-Security-Policy ${cspProblem}`, csp);
  await waitFor(b.page, `${b.name} to connect to veil`, () => window.veilDemo && window.veilDemo.connState === 'open', { debug: snapshot });
  const s = await b.page.evaluate(snapshot);
  assert(s.policy && s.policy.relay === 'force', `${b.name}: welcome policy is not relay=force`, s.policy);
  assert(s.iceTransportPolicy === 'relay', `${b.name}: welcome iceTransportPolicy is ${s.iceTransportPolicy}, want relay`);
  const shown = await b.page.evaluate(() => [document.getElementById('policy-relay').dataset.value, document.getElementById('policy-ice').dataset.value]);
  assert(shown[0] === 'force' && shown[1] === 'relay', `${b.name}: privacy panel shows relay=${shown[0]} ice=${shown[1]}`);
  if (viewport) await assertNoOverflow(b, 'before joining');
  return s;
}

async function assertNoOverflow(b, when) {
  const m = await b.page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  assert(m.scrollWidth <= m.innerWidth, `${b.name}: page overflows horizontally ${when} (scrollWidth ${m.scrollWidth} > innerWidth ${m.innerWidth})`);
}

async function assertRelayed(b, peers) {
  const pairs = await waitFor(b.page, `${b.name}: a selected candidate pair for each of ${peers} peer(s)`, async (n) => {
    const p = await window.__veilTestPairs();
    return p.length >= n ? p : null;
  }, { arg: peers, debug: () => window.veilDemo.snapshot().pairs });
  for (const p of pairs) {
    assert(p.local === 'relay' && p.remote === 'relay', `${b.name}: selected candidate pair is not relay/relay`, pairs);
    assert(p.localAddress === RELAY_IP && p.remoteAddress === RELAY_IP, `${b.name}: selected pair is not on veil's relay address ${RELAY_IP}`, pairs);
  }
  const rec = await b.page.evaluate(() => window.__veilTest.configs);
  assert(rec.length > 0, `${b.name}: the page created no RTCPeerConnection`);
  for (const c of rec) {
    assert(c.iceTransportPolicy === 'relay', `${b.name}: an RTCPeerConnection was created with iceTransportPolicy ${c.iceTransportPolicy}`, rec);
    assert(c.urls.length > 0 && c.urls.every((u) => u.startsWith(`turn:${VEIL_HOST}:`) || u.startsWith(`turns:${VEIL_HOST}:`)),
      `${b.name}: ICE servers are not only veil's TURN on ${VEIL_HOST}`, rec);
  }
  // The demo's own panel agrees (it refreshes every 2 s).
  await b.page.evaluate(() => window.veilDemo.refreshStats());
  await waitFor(b.page, `${b.name}: privacy panel to say the connection is relayed`,
    () => document.getElementById('relay-summary').dataset.relayed === 'true', {
      debug: () => [document.getElementById('relay-summary').textContent, window.veilDemo.pairs],
    });
  return pairs;
}

// assertCandidates checks every remote candidate b's page was given.
async function assertCandidates(b) {
  const rec = await b.page.evaluate(() => ({ trickle: window.__veilTest.trickle, sdp: window.__veilTest.sdp, sdps: window.__veilTest.sdps }));
  const hook = await b.page.evaluate(() => window.veilDemo.remoteCandidates);
  const all = [...rec.trickle.map((c) => ['trickle', c]), ...rec.sdp.map((c) => ['sdp', c])];
  assert(rec.trickle.length > 0, `${b.name}: no trickled remote candidate was received at all`);
  for (const [source, s] of all) {
    const c = parseCandidate(s);
    assert(c.type === 'relay', `${b.name}: received a non-relay remote candidate (${source})`, s);
    assert(c.address === RELAY_IP, `${b.name}: remote relay candidate is not on veil's relay address ${RELAY_IP} (${source})`, s);
    assert(c.raddr === '0.0.0.0' && c.rport === '0', `${b.name}: remote candidate leaks a related address (${source})`, s);
  }
  // No real address in connection lines either (c=IN IP4 ...).
  for (const sdp of rec.sdps) {
    for (const line of sdp.split(/\r?\n/).filter((l) => l.startsWith('c='))) {
      const ip = line.split(/\s+/)[2];
      assert(ip === '0.0.0.0' || ip === RELAY_IP, `${b.name}: a remote description has a real address in ${line}`);
    }
  }
  // The demo reports exactly what the page was given.
  const mine = new Set(all.map(([, s]) => s));
  const theirs = new Set(hook.map((h) => h.candidate));
  assert(hook.every((h) => h.type === 'relay'), `${b.name}: the demo's candidate list has a non-relay type`, hook);
  assert([...mine].every((s) => theirs.has(s)) && [...theirs].every((s) => mine.has(s)),
    `${b.name}: veilDemo.remoteCandidates differs from what the page was given`, { recorded: [...mine], demo: [...theirs] });
  const counts = await b.page.evaluate(() => window.veilDemo.candidateTypes);
  assert(counts.host === 0 && counts.srflx === 0 && counts.prflx === 0 && counts.relay === hook.length,
    `${b.name}: the privacy panel's candidate counts are wrong`, counts);
  return { trickle: rec.trickle.length, sdp: rec.sdp.length };
}

async function assertOwnOrigin(b) {
  const bad = foreignRequests(b, BASE);
  assert(bad.length === 0, `${b.name}: the page requested other hosts than veil's origin`, bad);
  const paths = b.requests.map((u) => new URL(u).pathname);
  for (const want of ['/', '/demo.js', '/demo.css', '/veil.js']) {
    assert(paths.includes(want), `${b.name}: request for ${want} not seen (is request tracking working?)`, paths);
  }
  assert(b.websockets.length > 0, `${b.name}: no WebSocket seen (is request tracking working?)`);
}

async function assertClean(b) {
  const errors = await b.page.evaluate(() => window.veilDemo.errors);
  assert(errors.length === 0, `${b.name}: the demo showed errors to the user`, errors);
  assert(b.problems.length === 0, `${b.name}: the page threw`, b.problems);
}

async function sendChat(from, to, text, fromId) {
  await from.page.fill('#chat-input', text);
  await from.page.click('#chat-send');
  await waitFor(to.page, `${to.name} to receive "${text}" from ${from.name}`,
    ([t, id]) => window.veilDemo.chat.some((c) => c.text === t && c.from === id && !c.self && !c.system), {
      arg: [text, fromId], debug: () => window.veilDemo.chat,
    });
  const shown = await to.page.evaluate(([t, id]) => [...document.querySelectorAll('#chat-log li')].some((li) => li.dataset.from === id && li.textContent.includes(t)), [text, fromId]);
  assert(shown, `${to.name}: "${text}" is not shown in the chat log`);
}

async function withRecorder(name, viewport) {
  const b = await launch(name, { viewport, initScript: recordWebRTC });
  await b.context.addInitScript(`window.__veilTestPairs = ${selectedPairs.toString()};`);
  return b;
}

async function call() {
  const room = `demo-${crypto.randomBytes(16).toString('hex')}`;
  const A = await withRecorder('A', DESKTOP);
  const B = await withRecorder('B', DESKTOP);
  // The room travels in the fragment, which the browser never sends.
  await open(A, `${BASE}/#room=${room}`);
  await open(B, `${BASE}/#room=${room}`);
  for (const b of [A, B]) {
    assert(await b.page.inputValue('#room') === room, `${b.name}: #room=... did not fill in the room`);
    assert(b.requests.every((u) => !u.includes(room)), `${b.name}: the room name was sent in a request URL`);
  }
  step('two pages load the demo from veil and get policy relay=force, iceTransportPolicy=relay');

  await A.page.click('#join');
  await waitFor(A.page, 'A to join', () => window.veilDemo.joined, { debug: snapshot });
  await B.page.click('#join');
  await waitFor(B.page, 'B to join', () => window.veilDemo.joined, { debug: snapshot });
  const idA = await A.page.evaluate(() => window.veilDemo.id);
  const idB = await B.page.evaluate(() => window.veilDemo.id);
  await waitFor(A.page, 'A: data channel to B open', (id) => window.veilDemo.snapshot().openChannels.includes(id), { arg: idB, debug: snapshot });
  await waitFor(B.page, 'B: data channel to A open', (id) => window.veilDemo.snapshot().openChannels.includes(id), { arg: idA, debug: snapshot });
  step('both pages joined the room and opened a data channel');

  await sendChat(A, B, 'hello from A', idA);
  await sendChat(B, A, 'hi A, B here', idB);
  step('chat crosses the data channel both ways');

  const vA = await waitFor(A.page, 'A: frames in the video from B', videoFrames, { arg: remoteVideo(idB), debug: () => window.veilDemo.video });
  const vB = await waitFor(B.page, 'B: frames in the video from A', videoFrames, { arg: remoteVideo(idA), debug: () => window.veilDemo.video });
  step(`fake-camera video arrives both ways (A sees ${vA.width}x${vA.height}, ${vA.totalVideoFrames} frames; B sees ${vB.width}x${vB.height}, ${vB.totalVideoFrames} frames)`);

  const pA = await assertRelayed(A, 1);
  const pB = await assertRelayed(B, 1);
  step(`selected candidate pair is relay/relay on ${RELAY_IP} on both pages (A ${pA[0].relayProtocol}, B ${pB[0].relayProtocol})`);

  // Mid-call screenshot for docs/demo.png: both peers, video, chat, relay.
  await A.page.evaluate(() => document.activeElement && document.activeElement.blur());
  await sleep(300);
  const shot = path.join(ARTIFACTS, 'demo.png');
  await A.page.screenshot({ path: shot });
  step(`screenshot mid-call: ${shot}`);

  await A.page.setViewportSize(PHONE);
  await sleep(200);
  await assertNoOverflow(A, 'during a call at 390x844');
  await A.page.screenshot({ path: path.join(ARTIFACTS, 'demo-phone.png'), fullPage: true });
  step('no horizontal overflow at 390x844 during a call');

  // A renegotiation after gathering puts a=candidate lines into the SDP:
  // the SDP path must be relay-only too. A adds a receive-only transceiver
  // behind the demo's back; veil.js renegotiates on negotiationneeded.
  const sdpBefore = await B.page.evaluate(() => window.__veilTest.sdps.length);
  await A.page.evaluate(() => {
    const pc = window.__veilTest.pcs.find((p) => p.connectionState === 'connected');
    pc.addTransceiver('audio', { direction: 'recvonly' });
  });
  await waitFor(B.page, 'B: a renegotiation offer from A', (n) => window.__veilTest.sdps.length > n, { arg: sdpBefore });
  await waitFor(B.page, 'B: a=candidate lines in a remote SDP', () => window.__veilTest.sdp.length > 0, {
    debug: () => window.__veilTest.sdps.slice(-1),
  });
  await sendChat(A, B, 'still here after renegotiation', idA);
  await assertRelayed(A, 1);
  await assertRelayed(B, 1);
  step('after a renegotiation (remote SDP with candidates) the call still works, relayed');

  for (const b of [A, B]) {
    const n = await assertCandidates(b);
    step(`${b.name}: all ${n.trickle} trickled and ${n.sdp} SDP remote candidates are relay on ${RELAY_IP} with raddr 0.0.0.0 rport 0`);
    await assertOwnOrigin(b);
    await assertClean(b);
  }
  step('the call pages requested nothing from any host but veil and showed no error');
  await A.close();
  await B.close();
}

async function broadcast() {
  const streamId = `stream-${crypto.randomBytes(16).toString('hex')}`;
  const V = await withRecorder('viewer', PHONE);
  await open(V, `${BASE}/`, PHONE);
  step('a fresh page at 390x844 has no horizontal overflow');

  await V.page.fill('#stream', streamId);
  await V.page.click('#play');
  await waitFor(V.page, 'viewer: play to be pending', () => window.veilDemo.stream.status === 'waiting', { debug: () => window.veilDemo.stream });
  await sleep(WAITING_HOLD_MS);
  const w = await V.page.evaluate(() => ({
    stream: window.veilDemo.stream,
    shown: document.getElementById('stream-status').dataset.status,
    tiles: document.querySelectorAll('#videos [data-testid="remote-tile"]').length,
    pcs: window.__veilTest.pcs.length,
  }));
  assert(w.stream.status === 'waiting' && w.stream.publisher === null && w.shown === 'waiting',
    'viewer: the play did not stay waiting while nobody publishes', w);
  assert(w.tiles === 0 && w.pcs === 0, 'viewer: a connection or video appeared before anyone published', w);
  step('the viewer plays the stream before it exists and waits');

  const P = await withRecorder('publisher', DESKTOP);
  await open(P, `${BASE}/`);
  await P.page.fill('#stream', streamId);
  await P.page.click('#publish');
  await waitFor(P.page, 'publisher: stream published', () => window.veilDemo.stream.status === 'published', { debug: () => window.veilDemo.snapshot() });
  const idP = await P.page.evaluate(() => window.veilDemo.id);
  await waitFor(V.page, 'viewer: playing from the publisher', (id) => {
    const s = window.veilDemo.stream;
    return s.status === 'playing' && s.publisher === id && document.getElementById('stream-status').dataset.status === 'playing';
  }, { arg: idP, debug: () => window.veilDemo.stream });
  const v = await waitFor(V.page, 'viewer: frames in the video from the publisher', videoFrames, { arg: remoteVideo(idP), debug: () => window.veilDemo.video });
  await waitFor(P.page, 'publisher: one viewer counted', () => window.veilDemo.stream.viewers === 1, { debug: () => window.veilDemo.stream });
  step(`once the publisher appears the viewer plays its video (${v.width}x${v.height}, ${v.totalVideoFrames} frames)`);

  await assertRelayed(V, 1);
  await assertRelayed(P, 1);
  step('publisher and viewer are connected through the relay');
  await assertNoOverflow(V, 'while playing at 390x844');

  for (const b of [V, P]) {
    const n = await assertCandidates(b);
    step(`${b.name}: all ${n.trickle} trickled and ${n.sdp} SDP remote candidates are relay on ${RELAY_IP} with raddr 0.0.0.0 rport 0`);
    await assertOwnOrigin(b);
    await assertClean(b);
  }
  step('the broadcast pages requested nothing from any host but veil and showed no error');
  await V.close();
  await P.close();
}

main(async () => {
  await call();
  await broadcast();
});

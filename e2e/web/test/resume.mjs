// Browser test of resume (docs/PROTOCOL.md "Resume"): a call between two
// demo pages, relay forced through veil's embedded TURN on loopback, goes on
// while page A's signaling WebSocket is down and comes back resumed.
// Run by cmd/veil's TestResumeBrowser.
//
//  1. two pages join a room; video flows both ways, relay/relay;
//  2. A clicks "Drop signaling" while new WebSockets cannot open (the page's
//     WebSocket constructor throws for OUTAGE_MS): A is reconnecting;
//  3. during the outage, video keeps arriving on both pages, B still lists
//     A (no leave), and no page created a new RTCPeerConnection;
//  4. the WebSocket is allowed again: A is back with the same id, the same
//     peer connections, and signaling works (a renegotiation offer from A
//     reaches B, chat crosses, the pair is still relay/relay).
//
// Extra environment: VEIL_RELAY_IP, the TURN relay address (required);
// VEIL_URL_B, where page B loads from (optional, default VEIL_URL: across
// a cluster, page A's resume lands on another node than B's, see
// cmd/veil's TestResumeBrowserCluster); VEIL_HOLD_MS (optional): after the
// resume, keep checking the video this long (past the end of the old
// node's relays for A, when the session moved).

import crypto from 'node:crypto';
import { assert, env, launch, main, sleep, step, waitFor, recordWebRTC, videoFrames } from './browser.mjs';

const BASE = env('VEIL_URL').replace(/\/+$/, '');
const RELAY_IP = env('VEIL_RELAY_IP');
const BASE_B = (process.env.VEIL_URL_B || BASE).replace(/\/+$/, '');
const HOLD_MS = Number(process.env.VEIL_HOLD_MS || 0);
// How long A's signaling stays down: several reconnect attempts, well
// inside veil's 30 s grace window.
const OUTAGE_MS = 5000;

const remoteVideo = (peer) => `#videos video[data-testid="remote-video"][data-peer="${peer}"]`;
const snapshot = () => window.veilDemo.snapshot();

// selectedPairs (in the page): the selected pair of each connected
// RTCPeerConnection, from getStats().
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
    out.push({ local: l && l.candidateType, remote: r && r.candidateType, localAddress: l && l.address, remoteAddress: r && r.address });
  }
  return out;
}

async function page(name, room, base = BASE) {
  const b = await launch(name, { initScript: recordWebRTC });
  await b.context.addInitScript(`window.__veilTestPairs = ${selectedPairs.toString()};`);
  const resp = await b.page.goto(`${base}/#room=${room}`);
  assert(resp && resp.status() === 200, `${name}: GET / returned ${resp && resp.status()}`);
  await waitFor(b.page, `${name} to connect to veil`, () => window.veilDemo && window.veilDemo.connState === 'open', { debug: snapshot });
  return b;
}

async function assertRelayed(b) {
  const pairs = await waitFor(b.page, `${b.name}: a selected candidate pair`, async () => {
    const p = await window.__veilTestPairs();
    return p.length >= 1 ? p : null;
  });
  for (const p of pairs) {
    assert(p.local === 'relay' && p.remote === 'relay' && p.localAddress === RELAY_IP && p.remoteAddress === RELAY_IP,
      `${b.name}: the selected pair is not relay/relay on ${RELAY_IP}`, pairs);
  }
}

// frames requires that the video from peer on b shows new frames, and
// returns its decoded frame count.
async function frames(b, peer, what) {
  const v = await waitFor(b.page, `${b.name}: frames in the video from ${what}`, videoFrames, { arg: remoteVideo(peer), debug: () => window.veilDemo.video });
  return v.totalVideoFrames;
}

async function chat(from, to, text, fromId) {
  await from.page.fill('#chat-input', text);
  await from.page.click('#chat-send');
  await waitFor(to.page, `${to.name} to receive "${text}"`,
    ([t, id]) => window.veilDemo.chat.some((c) => c.text === t && c.from === id && !c.self && !c.system), { arg: [text, fromId] });
}

main(async () => {
  const room = `resume-${crypto.randomBytes(16).toString('hex')}`;
  const A = await page('A', room);
  const B = await page('B', room, BASE_B);
  await A.page.click('#join');
  await waitFor(A.page, 'A to join', () => window.veilDemo.joined, { debug: snapshot });
  await B.page.click('#join');
  await waitFor(B.page, 'B to join', () => window.veilDemo.joined, { debug: snapshot });
  const idA = await A.page.evaluate(() => window.veilDemo.id);
  const idB = await B.page.evaluate(() => window.veilDemo.id);
  let fA = await frames(A, idB, 'B');
  let fB = await frames(B, idA, 'A');
  await assertRelayed(A);
  await assertRelayed(B);
  const pcsA = await A.page.evaluate(() => window.__veilTest.pcs.length);
  const pcsB = await B.page.evaluate(() => window.__veilTest.pcs.length);
  step(`a call between A and B, video both ways, relay/relay on ${RELAY_IP}`);

  // No new WebSocket can open on A for a while; then A's signaling drops.
  await A.page.evaluate(() => {
    window.__realWebSocket = window.WebSocket;
    window.WebSocket = function Offline() { throw new Error('offline (test)'); };
  });
  await A.page.click('#drop-signaling');
  await waitFor(A.page, 'A to notice the drop', () => window.veilDemo.connState === 'reconnecting', { debug: snapshot });
  const downAt = Date.now();
  step('A dropped its signaling WebSocket and cannot reconnect yet');

  let checks = 0;
  while (Date.now() - downAt < OUTAGE_MS) {
    const nA = await frames(A, idB, 'B (signaling down)');
    const nB = await frames(B, idA, 'A (signaling down)');
    assert(nA > fA && nB > fB, 'video stopped while signaling was down', { before: [fA, fB], now: [nA, nB] });
    [fA, fB] = [nA, nB];
    const s = await A.page.evaluate(() => window.veilDemo.connState);
    assert(s === 'reconnecting', `A's signaling came back too early (${s}): the outage is not real`);
    const peersB = await B.page.evaluate(() => window.veilDemo.peers);
    assert(peersB.includes(idA), 'B was told A left while A was only away', peersB);
    checks++;
    await sleep(500);
  }
  assert(checks >= 2, `only ${checks} checks during the outage`);
  step(`video kept arriving on both pages during ${OUTAGE_MS} ms without signaling (${checks} checks), and B still lists A`);

  await A.page.evaluate(() => { window.WebSocket = window.__realWebSocket; });
  await waitFor(A.page, 'A to resume', () => window.veilDemo.connState === 'open', { timeout: 40_000, debug: snapshot });
  const idA2 = await A.page.evaluate(() => window.veilDemo.id);
  assert(idA2 === idA, 'A came back with another id: the session was not resumed', { before: idA, after: idA2 });
  assert(await A.page.evaluate(() => window.veilDemo.chat.some((c) => c.system && c.text.includes('resumed'))), 'the demo did not say the connection was resumed');
  const pcs = [await A.page.evaluate(() => window.__veilTest.pcs.length), await B.page.evaluate(() => window.__veilTest.pcs.length)];
  assert(pcs[0] === pcsA && pcs[1] === pcsB, 'a page created a new RTCPeerConnection: the call was not kept', { before: [pcsA, pcsB], after: pcs });
  step('A resumed with the same id and the same peer connections');

  // Signaling works after the resume: a renegotiation offer from A reaches B.
  const sdpBefore = await B.page.evaluate(() => window.__veilTest.sdps.length);
  await A.page.evaluate(() => {
    const pc = window.__veilTest.pcs.find((p) => p.connectionState === 'connected');
    pc.addTransceiver('audio', { direction: 'recvonly' });
  });
  await waitFor(B.page, 'B: a renegotiation offer from A after the resume', (n) => window.__veilTest.sdps.length > n, { arg: sdpBefore });
  await chat(A, B, 'still here after the drop', idA);
  await chat(B, A, 'welcome back', idB);
  const nA = await frames(A, idB, 'B (after resume)');
  const nB = await frames(B, idA, 'A (after resume)');
  assert(nA > fA && nB > fB, 'video stopped after the resume');
  await assertRelayed(A);
  await assertRelayed(B);
  // connect-failed is the outage this test made (the WebSocket constructor
  // threw); nothing else may have gone wrong.
  const errs = [await A.page.evaluate(() => window.veilDemo.errors), await B.page.evaluate(() => window.veilDemo.errors)]
    .map((l) => l.filter((e) => e.code !== 'connect-failed'));
  assert(errs[0].length === 0 && errs[1].length === 0, 'a page showed errors', errs);
  assert(A.problems.length === 0 && B.problems.length === 0, 'a page threw', [A.problems, B.problems]);
  step('after the resume: renegotiation through veil, chat both ways, video, still relay/relay, no errors');

  if (HOLD_MS > 0) {
    [fA, fB] = [nA, nB];
    const until = Date.now() + HOLD_MS;
    let held = 0;
    while (Date.now() < until) {
      await sleep(1000);
      const hA = await frames(A, idB, 'B (holding)');
      const hB = await frames(B, idA, 'A (holding)');
      assert(hA > fA && hB > fB, 'video stopped after the resume', { before: [fA, fB], now: [hA, hB] });
      [fA, fB] = [hA, hB];
      held++;
    }
    await assertRelayed(A);
    await assertRelayed(B);
    step(`video kept flowing ${HOLD_MS} ms after the resume (${held} checks), still relay/relay`);
  }
  await A.close();
  await B.close();
});

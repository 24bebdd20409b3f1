// Browser test: the VDO.Ninja app's handshake, in both of its dialects,
// against a real veil (signaling + embedded TURN on loopback, relay forced,
// --max-room-peers=2). vdoapp.html reproduces what the app sends and how it
// reacts, message for message; run by cmd/veil's TestVDOAppBrowser.
//
// For each dialect (official on /vdo, as with the app's &wss2=; fan-out on
// /vdo-fanout, as with &wss=) it proves:
//  1. push/view: a viewer that loads first gets the publisher's video;
//  2. a room with a director: director and guest see each other's video,
//     and the guest knows who the director is;
//  3. every selected candidate pair is relay/relay on veil's relay address,
//     every remote candidate is relay with raddr 0.0.0.0, and no frame any
//     page received through veil holds an IP address other than the relay
//     address and 0.0.0.0, a .local name, or the browser's user agent;
//  4. each refusal comes with the alert the app shows: a taken stream ID, a
//     full room, sealed (encrypted) handshakes ("&password=false", and the
//     viewer learns why nothing arrives), a missing operator token (on a
//     second veil that requires tokens, where {"auth":TOKEN} is accepted);
//  5. no page requested anything but veil's origin.
//
// Extra environment: VEIL_RELAY_IP, the TURN relay address (required);
// VEIL_AUTH_URL, a veil requiring operator tokens, and VEIL_AUTH_TOKEN, one
// granting publish on streams starting with "ok-" (required).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, env, foreignRequests, launch, main, step, waitFor, videoFrames, parseCandidate } from './browser.mjs';

const BASE = env('VEIL_URL').replace(/\/+$/, '');
const RELAY_IP = env('VEIL_RELAY_IP');
const AUTH_BASE = env('VEIL_AUTH_URL').replace(/\/+$/, '');
const AUTH_TOKEN = env('VEIL_AUTH_TOKEN');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGE = fs.readFileSync(path.join(HERE, 'vdoapp.html'), 'utf8');

const DIALECTS = [
  { dialect: 'official', path: '/vdo', streamInUse: 'Stream ID is already in use.' },
  { dialect: 'fanout', path: '/vdo-fanout', streamInUse: 'is already in use on this server' },
];

async function openPage(browser, name, cfg, base = BASE) {
  const page = browser.page.url() === 'about:blank' ? browser.page : await browser.context.newPage();
  page.on('pageerror', (err) => browser.problems.push(`${name}: uncaught: ${err.message}`));
  page.on('websocket', (ws) => browser.websockets.push(ws.url()));
  const resp = await page.goto(`${base}/healthz`);
  assert(resp && resp.status() === 200, `${name}: GET /healthz failed`);
  await page.setContent(PAGE);
  await waitFor(page, `${name}: page script loaded`, () => window.T && typeof window.T.start === 'function');
  await page.evaluate((c) => window.T.start(c), cfg);
  return { name, page };
}

// pairs (in the page) lists the selected candidate pair of every connected
// RTCPeerConnection, and the remote candidates each was given.
async function pairs() {
  const out = [];
  for (const pc of [...Object.values(window.T.pcs), ...Object.values(window.T.rpcs)]) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    stats.forEach((x) => {
      if (x.type === 'transport' && x.selectedCandidatePairId) {
        const p = stats.get(x.selectedCandidatePairId);
        const l = stats.get(p.localCandidateId);
        const r = stats.get(p.remoteCandidateId);
        out.push({ local: l && l.candidateType, remote: r && r.candidateType, la: l && l.address, ra: r && r.address });
      }
    });
  }
  return out;
}

const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/g;

// assertClean checks every frame p received through veil: no address but
// the relay's and 0.0.0.0, no .local name, no user agent; remote
// candidates only relay with raddr 0.0.0.0.
async function assertClean(p, ua) {
  const frames = await p.page.evaluate(() => window.T.frames);
  assert(frames.length > 0, `${p.name}: no frame received`);
  for (const f of frames) {
    for (const ip of f.match(IPV4) || []) {
      assert(ip === RELAY_IP || ip === '0.0.0.0', `${p.name}: a frame from veil holds the address ${ip}`, f);
    }
    assert(!/\.local\b/i.test(f), `${p.name}: a frame from veil holds a .local name`, f);
    assert(!f.includes(ua), `${p.name}: a frame from veil holds the user agent`, f);
    const m = JSON.parse(f);
    const cands = [...(Array.isArray(m.candidates) ? m.candidates.map((c) => c.candidate) : []),
      ...(m.description && m.description.sdp ? m.description.sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:')).map((l) => l.slice(2)) : [])];
    for (const s of cands) {
      const c = parseCandidate(s);
      assert(c.type === 'relay' && c.address === RELAY_IP && c.raddr === '0.0.0.0', `${p.name}: a remote candidate is not relay-only`, s);
    }
  }
  return frames.length;
}

async function assertRelayPairs(p) {
  const ps = await p.page.evaluate(pairs);
  assert(ps.length > 0, `${p.name}: no connected RTCPeerConnection`);
  for (const x of ps) {
    assert(x.local === 'relay' && x.remote === 'relay' && x.la === RELAY_IP && x.ra === RELAY_IP,
      `${p.name}: selected pair is not relay/relay on ${RELAY_IP}`, ps);
  }
  return ps.length;
}

async function videoFrom(p, what) {
  return waitFor(p.page, `${p.name}: video from ${what}`, videoFrames, {
    arg: 'video.remote',
    debug: () => {
      const st = (m) => Object.fromEntries(Object.entries(m).map(([k, pc]) => [k.slice(0, 6),
        `${pc.signalingState}/${pc.iceGatheringState}/${pc.iceConnectionState}/${pc.connectionState}`]));
      return {
        pcs: st(window.T.pcs), rpcs: st(window.T.rpcs),
        sent: window.T.sent.map((s) => s.slice(0, 240)), frames: window.T.frames.map((s) => s.slice(0, 240)),
        errors: window.T.errors, alerts: window.T.alerts,
      };
    },
  });
}

async function alertOf(p, want) {
  const a = await waitFor(p.page, `${p.name}: the alert "${want}"`,
    (w) => window.T.alerts.find((x) => x.includes(w)) && document.getElementById('alertModalMessage').textContent,
    { arg: want, debug: () => ({ alerts: window.T.alerts, logged: window.T.logged }) });
  return a;
}

async function run(browser, d, ua) {
  const tag = `${d.dialect}${Date.now().toString(36)}`;
  const cfg = (extra) => ({ dialect: d.dialect, path: d.path, ...extra });

  // 1. push/view; the viewer loads first.
  const V = await openPage(browser, `${d.dialect} viewer`, cfg({ view: `${tag}cam` }));
  const P = await openPage(browser, `${d.dialect} publisher`, cfg({ push: `${tag}cam` }));
  const v = await videoFrom(V, 'the publisher');
  step(`${d.dialect}: push/view: video at the viewer (${v.width}x${v.height})`);

  // 2. a room with a director (who also publishes) and a guest.
  const room = `${tag}room`;
  const D = await openPage(browser, `${d.dialect} director`, cfg({ room, director: true, push: `${tag}dir` }));
  await D.page.waitForTimeout(300);
  const G = await openPage(browser, `${d.dialect} guest`, cfg({ room, push: `${tag}guest` }));
  await videoFrom(G, 'the director');
  await videoFrom(D, 'the guest');
  const dir = await G.page.evaluate(() => ({ director: window.T.directorUUID, peers: Object.keys(window.T.rpcs) }));
  const dLabel = await D.page.evaluate(() => window.T.label);
  if (d.dialect === 'fanout') {
    assert(dir.director === dLabel, `${d.dialect}: the guest does not know the director`, { dir, dLabel });
  } else {
    assert(dir.director && dir.peers.includes(dir.director), `${d.dialect}: the guest does not know the director`, dir);
  }
  step(`${d.dialect}: room: director and guest see each other's video; the guest knows the director`);

  // 3. relay only, nothing leaks.
  let n = 0;
  let frames = 0;
  for (const p of [V, P, D, G]) {
    n += await assertRelayPairs(p);
    frames += await assertClean(p, ua);
  }
  // What the pages sent did hold their addresses (Chromium writes them in
  // raddr, c= and o=): the clean frames above are veil's doing.
  const sent = (await P.page.evaluate(() => window.T.sent)).join('\n');
  const own = [...new Set((sent.match(IPV4) || []).filter((ip) => ip !== RELAY_IP && ip !== '0.0.0.0'))];
  assert(own.length > 0, `${d.dialect}: the publisher sent no address of its own; the check above proves nothing`);
  step(`${d.dialect}: ${n} selected pairs relay/relay on ${RELAY_IP}; ${frames} frames received through veil hold no address, .local name or user agent (the publisher sent ${own.join(', ')})`);

  // 4. refusals and their alerts.
  const X = await openPage(browser, `${d.dialect} second publisher`, cfg({ push: `${tag}cam` }));
  await alertOf(X, d.streamInUse);
  step(`${d.dialect}: a taken stream ID is refused with the alert the app shows`);
  const H = await openPage(browser, `${d.dialect} third member`, cfg({ room, push: `${tag}third` }));
  await alertOf(H, 'Room is full');
  step(`${d.dialect}: a full room is refused with "Room is full"`);
  const V2 = await openPage(browser, `${d.dialect} sealed viewer`, cfg({ view: `${tag}sealed`, sealed: true }));
  const P2 = await openPage(browser, `${d.dialect} sealed publisher`, cfg({ push: `${tag}sealed`, sealed: true }));
  const a = await alertOf(P2, 'this server requires &password=false');
  await alertOf(V2, 'Another page of this session sends encrypted handshakes');
  const got = await V2.page.evaluate(() => window.T.frames.filter((f) => f.includes('"vector"')));
  assert(got.length === 0, `${d.dialect}: a sealed payload reached the viewer`, got);
  step(`${d.dialect}: sealed handshakes are refused; the publisher is told "${a.split('\n')[0]}", and the viewer why nothing arrives`);
  const W = [];
  if (d.dialect === 'official') {
    // A page opened with &wss= but given the official path.
    W.push(await openPage(browser, 'fan-out page on /vdo', { dialect: 'fanout', path: '/vdo', push: `${tag}wrong` }));
    await alertOf(W[0], '/vdo-fanout');
    step('a fan-out (&wss=) page on the official path is told to use /vdo-fanout or &wss2=');
  }
  for (const p of [X, H, V2, P2, ...W]) await p.page.close();

  // 5. a veil that requires operator tokens.
  const U = await openPage(browser, `${d.dialect} without token`, cfg({ push: `no-${tag}` }), AUTH_BASE);
  await alertOf(U, '&auth=TOKEN');
  const A = await openPage(browser, `${d.dialect} with &auth=`, cfg({ push: `ok-${tag}`, auth: AUTH_TOKEN }), AUTH_BASE);
  await A.page.waitForTimeout(500);
  const refused = await A.page.evaluate(() => ({ alerts: window.T.alerts, logged: window.T.logged }));
  assert(refused.alerts.length === 0 && refused.logged.length === 0, `${d.dialect}: the page with &auth= was refused`, refused);
  step(`${d.dialect}: without a token the app is told to add &auth=TOKEN; with {"auth":TOKEN} it publishes`);
  for (const p of [U, A]) await p.page.close();
}

main(async () => {
  for (const d of DIALECTS) {
    const b = await launch(d.dialect);
    const ua = await b.page.evaluate(() => navigator.userAgent);
    await run(b, d, ua);
    const bad = foreignRequests(b, BASE).filter((u) => new URL(u).host !== new URL(AUTH_BASE).host);
    assert(bad.length === 0, `${d.dialect}: a page requested other hosts than veil's origin`, bad);
    assert(b.problems.length === 0, `${d.dialect}: a page threw`, b.problems);
    await b.close();
  }
}, { deadline: 120_000 });

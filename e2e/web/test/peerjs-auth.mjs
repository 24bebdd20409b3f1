// Browser test of veil's access control on the PeerJS dialect: the real
// `peerjs` 1.5.5 client in Debian's Chromium against a real veil started
// with an operator secret. Run by cmd/veil's TestPeerJSBrowserWithTokens.
//
// It proves:
//  1. GET /turn-credentials without a token is refused (401), with
//     ?token= it answers;
//  2. the client's own `token` option carries the operator token: a Peer
//     whose token grants join on its id opens, one with another id's token
//     or with the client's default random token gets server-error
//     "Invalid token provided";
//  3. two token-holding peers exchange data over a DataConnection through
//     veil's TURN relay.
//
// Extra environment: VEIL_ID_A, VEIL_TOKEN_A, VEIL_ID_B, VEIL_TOKEN_B.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, env, foreignRequests, launch, main, step, waitFor } from './browser.mjs';

const BASE = env('VEIL_URL').replace(/\/+$/, '');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = fs.readFileSync(path.join(HERE, '..', 'node_modules', 'peerjs', 'dist', 'peerjs.min.js'));
const BUNDLE_URL = `${BASE}/__peerjs-test/peerjs.min.js`;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>veil PeerJS token test</title>
<script src="/__peerjs-test/peerjs.min.js"></script>
<script>
const T = window.T = { peers: {}, received: [] };

T.credentials = async (token) => {
  const r = await fetch('/turn-credentials' + (token ? '?token=' + encodeURIComponent(token) : ''));
  return { status: r.status, body: r.status === 200 ? await r.json() : null };
};

// open creates a Peer with id and (when given) the operator token, and
// resolves with {ok} on open or {ok: false, type, message} on error.
T.open = async (id, token) => {
  const opts = { host: location.hostname, port: Number(location.port), path: '/peerjs', debug: 1 };
  if (token) {
    const c = (await T.credentials(token)).body;
    opts.token = token;
    opts.config = { iceServers: [{ urls: c.uris, username: c.username, credential: c.password }], iceTransportPolicy: 'relay' };
  }
  const peer = new Peer(id, opts);
  const r = await new Promise((resolve) => {
    peer.once('open', () => resolve({ ok: true }));
    peer.once('error', (err) => resolve({ ok: false, type: err.type, message: String(err.message || err) }));
  });
  if (!r.ok) { peer.destroy(); return r; }
  T.peers[id] = peer;
  peer.on('connection', (conn) => conn.on('data', (d) => T.received.push({ to: id, from: conn.peer, data: d })));
  return r;
};

T.send = (from, to) => {
  const conn = T.peers[from].connect(to);
  conn.on('open', () => conn.send('hello from ' + from));
};
</script>
`;

main(async () => {
  const idA = env('VEIL_ID_A'); const tokA = env('VEIL_TOKEN_A');
  const idB = env('VEIL_ID_B'); const tokB = env('VEIL_TOKEN_B');
  const b = await launch('P');
  await b.context.route(BUNDLE_URL, (r) => r.fulfill({ status: 200, contentType: 'text/javascript', body: BUNDLE }));
  const resp = await b.page.goto(`${BASE}/healthz`); // same origin and address space as veil (see peerjs.mjs)
  assert(resp && resp.status() === 200, 'GET /healthz failed');
  await b.page.setContent(PAGE);
  await waitFor(b.page, 'peerjs loaded', () => typeof window.Peer === 'function' && window.T);

  const none = await b.page.evaluate(() => window.T.credentials(''));
  assert(none.status === 401, 'TURN credentials without a token were not refused', none);
  const some = await b.page.evaluate((t) => window.T.credentials(t), tokA);
  assert(some.status === 200 && some.body.uris.length > 0, 'TURN credentials with a token were not served', some);
  step('GET /turn-credentials: 401 without a token, credentials with ?token=');

  const stolen = await b.page.evaluate(([id, t]) => window.T.open(id, t), [`${idB}x`, tokA]);
  assert(!stolen.ok && stolen.type === 'server-error' && /Invalid token/.test(stolen.message), "a token for another id was not refused", stolen);
  const bare = await b.page.evaluate((id) => window.T.open(id, ''), idA);
  assert(!bare.ok && bare.type === 'server-error', "the client's default random token was not refused", bare);
  step("a Peer with another id's token or without an operator token gets server-error (Invalid token provided)");

  const a = await b.page.evaluate(([id, t]) => window.T.open(id, t), [idA, tokA]);
  assert(a.ok, 'A did not open with its token', a);
  const bb = await b.page.evaluate(([id, t]) => window.T.open(id, t), [idB, tokB]);
  assert(bb.ok, 'B did not open with its token', bb);
  step('Peers whose token grants join on their id open');

  await b.page.evaluate(([from, to]) => window.T.send(from, to), [idA, idB]);
  await waitFor(b.page, 'B: data from A', ([from, to]) => window.T.received.find((m) => m.to === to && m.from === from && m.data === `hello from ${from}`),
    { arg: [idA, idB], debug: () => window.T.received });
  step('a DataConnection between the token holders carries data through the relay');

  const bad = foreignRequests(b, BASE);
  assert(bad.length === 0, 'the page requested other hosts than veil', bad);
});

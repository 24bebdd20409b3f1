// Shared helpers for veil's browser tests: launch Debian's Chromium through
// playwright-core with the flags this machine needs, watch every request a
// page makes, poll page state with bounded waits, and fail loudly.
//
// Environment (set by cmd/veil's runNode):
//   VEIL_URL        veil's base URL, e.g. http://127.0.0.1:41234
//   VEIL_CHROMIUM   the browser binary (default /usr/bin/chromium)
//   VEIL_ARTIFACTS  a directory for screenshots and logs

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

// Launch flags for this machine (issue 6). headless: true also makes
// Playwright pass --headless; listing it here keeps the set explicit.
export const CHROMIUM_FLAGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
]);

// WAIT_MS bounds every wait for page state; ACTION_MS every Playwright action
// (click, fill, goto). They guard against hangs, they are not targets.
export const WAIT_MS = 30_000;
export const ACTION_MS = 30_000;
const POLL_MS = 200;
const CLOSE_MS = 10_000;

export function env(name, fallback) {
  const v = process.env[name];
  if (v) return v;
  if (fallback !== undefined) return fallback;
  throw new TestFailure(`environment variable ${name} is not set (run through go test ./cmd/veil)`);
}

export class TestFailure extends Error {}

// assert throws a TestFailure with message (plus detail, JSON-encoded) unless ok.
export function assert(ok, message, detail) {
  if (ok) return;
  throw new TestFailure(detail === undefined ? message : `${message}\n  detail: ${JSON.stringify(detail, null, 1)}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const started = Date.now();

// step logs a passed check with the seconds since the script started.
export const step = (text) => console.log(`ok   ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${text}`);

// waitFor polls fn(arg) in the page until it returns a truthy value and
// returns that value. On timeout it fails with what and, if given, the
// result of debug(arg) evaluated in the page at that moment.
export async function waitFor(page, what, fn, { arg, timeout = WAIT_MS, debug } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr = null;
  for (;;) {
    try {
      const v = await page.evaluate(fn, arg);
      if (v) return v;
      lastErr = null;
    } catch (err) {
      lastErr = err; // e.g. the page is navigating; try again until the deadline
    }
    if (Date.now() > deadline) {
      let state = '';
      if (debug) {
        try {
          state = `\n  page state: ${JSON.stringify(await page.evaluate(debug, arg))}`;
        } catch (err) {
          state = `\n  page state unavailable: ${err.message}`;
        }
      }
      throw new TestFailure(`timed out after ${timeout} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr.message})` : ''}${state}`);
    }
    await sleep(POLL_MS);
  }
}

const browsers = new Set();

// launch starts a fresh Chromium (its own temporary --user-data-dir) and
// returns {name, context, page, requests, websockets, problems, close}.
// Every HTTP request and WebSocket the pages open is recorded; uncaught page
// errors are collected in problems.
export async function launch(name, { viewport = { width: 1280, height: 800 }, initScript } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: env('VEIL_CHROMIUM', '/usr/bin/chromium'),
      headless: true,
      args: [...CHROMIUM_FLAGS],
      viewport,
      timeout: ACTION_MS,
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(ACTION_MS);
  const b = { name, context, dir, requests: [], websockets: [], problems: [] };
  b.close = async () => {
    if (!browsers.delete(b)) return;
    await Promise.race([context.close().catch(() => {}), sleep(CLOSE_MS)]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  browsers.add(b);
  context.on('request', (r) => b.requests.push(r.url()));
  if (initScript) await context.addInitScript(initScript);
  b.page = context.pages()[0] || (await context.newPage());
  b.page.on('websocket', (ws) => b.websockets.push(ws.url()));
  b.page.on('pageerror', (err) => b.problems.push(`uncaught: ${err.message}`));
  b.page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`  [${name} console.${m.type()}] ${m.text()}`);
  });
  return b;
}

export async function closeAll() {
  await Promise.all([...browsers].map((b) => b.close()));
}

// foreignRequests lists the URLs b's pages requested from anywhere but
// base's origin (HTTP) or host (WebSocket). data: and blob: URLs stay in
// the page.
export function foreignRequests(b, base) {
  const origin = new URL(base);
  const bad = [];
  for (const u of b.requests) {
    const url = new URL(u);
    if (url.protocol === 'data:' || url.protocol === 'blob:') continue;
    if (url.origin !== origin.origin) bad.push(u);
  }
  for (const u of b.websockets) {
    const url = new URL(u);
    const wsProto = origin.protocol === 'https:' ? 'wss:' : 'ws:';
    if (url.protocol !== wsProto || url.host !== origin.host) bad.push(u);
  }
  return bad;
}

// main runs test with a global deadline, always closes every browser, and
// exits non-zero with a clear message on failure.
export function main(test, { deadline = 150_000 } = {}) {
  const timer = setTimeout(async () => {
    console.error(`FAIL: the whole test took longer than ${deadline} ms`);
    await Promise.race([closeAll(), sleep(CLOSE_MS)]);
    process.exit(2);
  }, deadline);
  (async () => {
    let code = 0;
    try {
      await test();
      console.log('PASS');
    } catch (err) {
      code = 1;
      console.error(err instanceof TestFailure ? `FAIL: ${err.message}` : `FAIL (unexpected error): ${err.stack || err}`);
    } finally {
      await closeAll();
      clearTimeout(timer);
    }
    process.exit(code);
  })();
}

// recordWebRTC is an init script (launch's initScript): it runs in every
// page before the page's own scripts and wraps RTCPeerConnection to keep each
// connection, its configuration, and every remote candidate (trickle and
// a=candidate lines of remote SDP) and remote SDP it is given, in
// window.__veilTest. The page under test is not told.
export function recordWebRTC() {
  const Native = window.RTCPeerConnection;
  const rec = { configs: [], pcs: [], trickle: [], sdp: [], sdps: [] };
  class Recorded extends Native {
    constructor(config, ...rest) {
      super(config, ...rest);
      const c = config || {};
      rec.configs.push({
        iceTransportPolicy: c.iceTransportPolicy || 'all',
        urls: (c.iceServers || []).flatMap((s) => [].concat(s.urls || s.url || [])),
      });
      rec.pcs.push(this);
    }
    addIceCandidate(c, ...rest) {
      if (c && c.candidate) rec.trickle.push(c.candidate);
      return super.addIceCandidate(c, ...rest);
    }
    setRemoteDescription(d, ...rest) {
      if (d && d.sdp) {
        rec.sdps.push(d.sdp);
        for (const line of d.sdp.split(/\r?\n/)) {
          if (line.startsWith('a=candidate:')) rec.sdp.push(line.slice(2));
        }
      }
      return super.setRemoteDescription(d, ...rest);
    }
  }
  Object.defineProperty(window, 'RTCPeerConnection', { value: Recorded, writable: true, configurable: true });
  Object.defineProperty(window, '__veilTest', { value: rec });
}

// videoFrames runs in the page (waitFor's fn, with a CSS selector as arg):
// it returns proof that the <video> there shows a moving picture, or null:
// a size, a new frame presented (requestVideoFrameCallback), currentTime
// advancing and decoded frames.
export async function videoFrames(selector) {
  const v = document.querySelector(selector);
  if (!v || v.videoWidth === 0) return null;
  const t0 = v.currentTime;
  const frame = await new Promise((resolve) => {
    v.requestVideoFrameCallback((_now, meta) => resolve(meta));
    setTimeout(() => resolve(null), 3000);
  });
  await new Promise((r) => setTimeout(r, 300));
  const q = v.getVideoPlaybackQuality();
  if (!frame || v.currentTime <= t0 || q.totalVideoFrames === 0) return null;
  return { width: v.videoWidth, height: v.videoHeight, t0, t1: v.currentTime, totalVideoFrames: q.totalVideoFrames, presentedFrames: frame.presentedFrames };
}

// parseCandidate splits "candidate:f 1 udp prio addr port typ T k v ...".
export function parseCandidate(s) {
  const f = s.replace(/^candidate:/, '').trim().split(/\s+/);
  const c = { protocol: (f[2] || '').toLowerCase(), address: f[4], port: f[5], type: f[6] === 'typ' ? f[7] : undefined };
  for (let i = 8; i + 1 < f.length; i += 2) c[f[i]] = f[i + 1];
  return c;
}

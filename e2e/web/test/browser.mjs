// Shared helpers for veil's browser tests: launch Debian's Chromium through
// playwright-core (or Debian's Firefox ESR through puppeteer-core) with the
// flags this machine needs, watch every request a page makes, poll page
// state with bounded waits, and fail loudly.
//
// Environment (set by cmd/veil's runNode and runScript):
//   VEIL_URL        veil's base URL, e.g. http://127.0.0.1:41234
//   VEIL_CHROMIUM   the browser binary (default /usr/bin/chromium)
//   VEIL_FIREFOX    Firefox, for launchFirefox (default /usr/bin/firefox-esr)
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

// ---------------------------------------------------------------------------
// Firefox: Debian's firefox-esr through puppeteer-core over WebDriver BiDi.
// puppeteer-core never downloads a browser; it starts the binary in
// VEIL_FIREFOX with a fresh temporary profile holding the prefs below.

// FIREFOX_PREFS keep Firefox off every network but loopback (this machine has
// none other, and traffic elsewhere is flagged): no background service, no
// DNS query (every name resolves to 127.0.0.1), and anything HTTP that is
// not for loopback goes to a proxy on 127.0.0.1:9, where nothing listens, so
// even a request this list forgot stays on the machine (Firefox never
// proxies 127.0.0.1 itself). WebRTC: loopback host candidates allowed, no
// mDNS (obfuscated .local names would need multicast), no default STUN
// server. Firefox still gathers host candidates on the machine's other
// interfaces (media.peerconnection.ice.force_interface has no effect in
// Firefox 153); the tests only ever send them to veil, which drops them
// under forced relay, and only ever give Firefox loopback addresses to
// send to.
export const FIREFOX_PREFS = Object.freeze({
  // No background services.
  'app.normandy.enabled': false,
  'app.normandy.api_url': '',
  'app.shield.optoutstudies.enabled': false,
  'app.update.auto': false,
  'app.update.disabledForTesting': true,
  'browser.discovery.enabled': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.ping-centre.telemetry': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.search.update': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'dom.push.connection.enabled': false,
  'dom.push.enabled': false,
  'dom.push.serverURL': '',
  'extensions.blocklist.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.update.enabled': false,
  'geo.enabled': false,
  'identity.fxaccounts.enabled': false,
  'media.gmp-gmpopenh264.autoupdate': false,
  'media.gmp-gmpopenh264.enabled': false,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-manager.url': '',
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  // Every name resolves to 127.0.0.1 without a DNS query (Firefox's own
  // test harness uses it to stay off the network).
  'network.dns.native-is-localhost': true,
  'network.predictor.enabled': false,
  'network.prefetch-next': false,
  'network.trr.mode': 5, // no DNS over HTTPS
  'security.OCSP.enabled': 0,
  'security.remote_settings.crlite_filters.enabled': false,
  'services.settings.server': 'http://127.0.0.1:9/',
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.server': '',
  'toolkit.telemetry.unified': false,
  // The catch-all: every non-loopback HTTP(S) request goes nowhere.
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 9,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 9,
  'network.proxy.socks_remote_dns': true,
  'network.proxy.allow_hijacking_localhost': false,
  // WebRTC on loopback only.
  'media.peerconnection.default_iceservers': '[]',
  'media.peerconnection.ice.default_address_only': false,
  'media.peerconnection.ice.link_local': false,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.peerconnection.ice.tcp': false,
});

// launchFirefox starts a fresh headless Firefox (its own temporary profile)
// and returns {name, browser, page, newPage, requests, websockets, problems,
// close}, like launch. HTTP requests are recorded; WebSockets are not
// visible over BiDi, so websockets stays empty.
//
// mediaOrigins lists origins given a standing camera and microphone
// permission, as a user of a video-call site grants it. Firefox then
// gathers host candidates on every interface, loopback included; without
// it (RFC 8828 mode 2) only on the default route's. WebDriver BiDi cannot
// grant these permissions yet, so they come from a permissions defaults
// file.
export async function launchFirefox(name, { mediaOrigins = [] } = {}) {
  // Imported here so that the Chromium tests do not need puppeteer-core.
  const { default: puppeteer } = await import('puppeteer-core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-firefox-'));
  const prefs = { ...FIREFOX_PREFS };
  if (mediaOrigins.length) {
    const file = path.join(dir, 'permissions.txt');
    fs.writeFileSync(file, mediaOrigins.flatMap((o) => [`origin\tcamera\t1\t${o}\n`, `origin\tmicrophone\t1\t${o}\n`]).join(''));
    prefs['permissions.manager.defaultsUrl'] = `file://${file}`;
  }
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath: env('VEIL_FIREFOX', '/usr/bin/firefox-esr'),
      headless: true,
      extraPrefsFirefox: prefs,
      env: { ...process.env, MOZ_HEADLESS: '1' },
      timeout: ACTION_MS,
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const b = { name, browser, requests: [], websockets: [], problems: [] };
  b.close = async () => {
    if (!browsers.delete(b)) return;
    await Promise.race([browser.close().catch(() => {}), sleep(CLOSE_MS)]);
    const proc = browser.process();
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  browsers.add(b);
  b.newPage = async (pageName) => {
    const page = await browser.newPage();
    page.setDefaultTimeout(ACTION_MS);
    page.on('request', (r) => b.requests.push(r.url()));
    page.on('pageerror', (err) => b.problems.push(`${pageName}: uncaught: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') console.log(`  [${pageName} console.${m.type()}] ${m.text()}`);
    });
    return page;
  };
  b.page = await b.newPage(name);
  return b;
}

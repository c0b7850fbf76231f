// The example page's service worker: keeps the page and the client (the app
// shell) in Cache Storage so that the page itself opens with no network.
// The lists are not its business: datasnap-client.js keeps them, verified,
// in IndexedDB, and every other request goes to the network untouched.
const CACHE = "datasnap-example-shell-v1";
const SHELL = ["./", "./index.html", "./sw.js", "../datasnap-client.js"].map((p) => new URL(p, self.location).href);

/** The shell's cache, opened once per start of the worker rather than once per request. */
let shell;
const openShell = () => (shell ??= caches.open(CACHE).catch((e) => {
  shell = undefined;  // the next request tries again
  throw e;
}));

self.addEventListener("install", (event) => {
  event.waitUntil(openShell().then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

// Network first, so that an edited page shows at once; the cache when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  url.search = "";
  if (event.request.method !== "GET" || !SHELL.includes(url.href)) return;
  event.respondWith(respond(event, url.href));
});

/** @param {FetchEvent} event @param {string} key the shell URL (no query) */
async function respond(event, key) {
  const cache = await openShell();
  // When the browser knows it is offline the network can only fail: go to
  // the cache at once rather than wait for the failure (~5-10 ms a request
  // in headless Chromium, for the page and again for the client).
  if (self.navigator.onLine === false) {
    const cached = await cache.match(key);
    if (cached) return cached;
  }
  try {
    const response = await fetch(event.request);
    // Kept in the background: the page need not wait for the cache write.
    if (response.ok) event.waitUntil(cache.put(key, response.clone()));
    return response;
  } catch (e) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw e;
  }
}

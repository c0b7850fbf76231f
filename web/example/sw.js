// The example page's service worker: keeps the page and the client (the app
// shell) in Cache Storage so that the page itself opens with no network.
// The lists are not its business: datasnap-client.js keeps them, verified,
// in IndexedDB, and every other request goes to the network untouched.
const CACHE = "datasnap-example-shell-v1";
const SHELL = ["./", "./index.html", "./sw.js", "../datasnap-client.js"].map((p) => new URL(p, self.location).href);

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

// Network first, so that an edited page shows at once; the cache when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  url.search = "";
  if (event.request.method !== "GET" || !SHELL.includes(url.href)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(url.href, response.clone());
      return response;
    } catch (e) {
      const cached = await cache.match(url.href);
      if (cached) return cached;
      throw e;
    }
  })());
});

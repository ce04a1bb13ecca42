// The service worker: the app shell offline, the API's last answers for reading offline.
// The edge puts VERSION and SHELL_FILES above this line (edge/web.py): any change to any file
// of the app changes VERSION, installs this worker anew and drops the old cache.

const SHELL_CACHE = `quark-shell-${VERSION}`;
const DATA_CACHE = "quark-data";
// Reads kept for offline use: the last page of each (timelines, conversations, messages).
const KEPT_READS = [
  /^\/v1\/timelines\/(home|public)$/,
  /^\/v1\/conversations$/,
  /^\/v1\/conversations\/[0-9a-f-]{36}(\/messages)?$/,
  /^\/v1\/me$/,
  /^\/v1\/notifications$/,
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((n) => n.startsWith("quark-shell-") && n !== SHELL_CACHE).map((n) => caches.delete(n)),
      ))
      .then(() => self.clients.claim()),
  );
});

function isShellNavigation(request) {
  return request.mode === "navigate";
}

async function shellFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && request.mode !== "navigate") cache.put(request, response.clone());
    return response;
  } catch {
    const kept = await cache.match(request.mode === "navigate" ? "/" : request, { ignoreSearch: request.mode === "navigate" });
    if (kept) return kept;
    throw new Error("offline and not cached");
  }
}

// A kept read is answered by the network when it can be, else by its last answer, marked
// with `Quark-Offline: 1` so the page says it is showing what it saw last.
async function networkThenKept(request) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(keyFor(request), response.clone());
    return response;
  } catch {
    const kept = await cache.match(keyFor(request));
    if (!kept) throw new Error("offline and not kept");
    const headers = new Headers(kept.headers);
    headers.set("Quark-Offline", "1");
    return new Response(await kept.blob(), { status: kept.status, headers });
  }
}

// Answers are kept per reader (the page names them in `Quark-Reader`), so one person's
// timeline is never shown to the next person signing in on the same browser.
function keyFor(request) {
  const url = new URL(request.url);
  url.searchParams.set("_reader", request.headers.get("Quark-Reader") || "");
  return url.toString();
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/v1/")) {
    if (!url.search.includes("cursor=") && KEPT_READS.some((re) => re.test(url.pathname))) {
      event.respondWith(networkThenKept(request));
    }
    return;
  }
  if (url.pathname.startsWith("/media/")) return;
  if (isShellNavigation(request) || SHELL_FILES.includes(url.pathname)) {
    event.respondWith(shellFirst(request));
  }
});

self.addEventListener("message", (event) => {
  // Signing out forgets every kept answer of that browser.
  if (event.data && event.data.type === "forget") {
    event.waitUntil(caches.delete(DATA_CACHE));
  }
});

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: "Quark", body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "Quark", {
      body: data.body || "",
      tag: data.tag,
      data: { url: data.url || "/notifications" },
      icon: "/icons/icon-192.png",
    }),
  );
});

// The push service replaced the subscription: subscribe again with the same options, and
// ask open pages to store it on their session (this worker holds no token; a page that
// starts later notices the new subscription itself).
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(
    (async () => {
      const old = event.oldSubscription;
      if (!event.newSubscription && old && old.options) await self.registration.pushManager.subscribe(old.options);
      for (const w of await self.clients.matchAll({ type: "window" })) w.postMessage({ type: "push-changed" });
    })(),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || "/notifications";
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((windows) => {
      for (const w of windows) {
        if ("focus" in w) {
          w.navigate(target);
          return w.focus();
        }
      }
      return self.clients.openWindow(target);
    }),
  );
});

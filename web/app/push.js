// Web push on this browser: subscribing with the installation's key (GET /v1/push/key) and
// storing the subscription on this session (PUT /v1/me/devices/{session}/push), so the
// platform pushes notifications here while the app is closed; unsubscribing; and keeping
// the two in step when the browser's push service replaces the subscription (the service
// worker's `pushsubscriptionchange` tells open pages; a later start notices it too).
//
// The subscription belongs to the session, not the browser: signing out unsubscribes, so
// whoever signs in next on this browser starts with pushes off.
import * as api from "./api.js";

/** "unsupported", "blocked" (the site's notifications are denied), "on" or "off". */
export async function state() {
  const manager = await pushManager();
  if (!manager) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  const local = await manager.getSubscription();
  if (!local) return "off";
  const device = await thisDevice();
  return device && device.push_subscription && device.push_subscription.endpoint === local.endpoint ? "on" : "off";
}

/** Ask for permission, subscribe and store the subscription on this session. */
export async function enable() {
  const manager = await pushManager();
  if (!manager) return "unsupported";
  if ((await Notification.requestPermission()) !== "granted") return "blocked";
  const { public_key: key } = await api.get("/v1/push/key");
  let local = await manager.getSubscription();
  if (local && !sameKey(local, key)) {
    // Made with another key (the installation's key changed): useless for our pushes.
    await local.unsubscribe();
    local = null;
  }
  local = local || (await manager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(key) }));
  await store(local);
  return "on";
}

/** Stop pushes to this session and drop the browser's subscription. */
export async function disable() {
  const sid = sessionId();
  if (sid) await api.del(`/v1/me/devices/${sid}/push`);
  await unsubscribe();
  return "off";
}

/** Drop the browser's subscription (signing out: the session and its pushes end anyway). */
export async function unsubscribe() {
  const manager = await pushManager();
  const local = manager && (await manager.getSubscription());
  if (local) await local.unsubscribe();
}

/** When this browser has a subscription the session does not hold (renewed by the push
 * service since), store it again. Costs nothing when the browser has none. */
export async function sync() {
  try {
    const manager = await pushManager();
    const local = manager && Notification.permission === "granted" && (await manager.getSubscription());
    if (!local || !sessionId()) return;
    const device = await thisDevice();
    if (device && !(device.push_subscription && device.push_subscription.endpoint === local.endpoint)) await store(local);
  } catch {
    // offline, or the session went meanwhile: the next start tries again
  }
}

async function store(local) {
  const sid = sessionId();
  if (!sid) throw new Error("no session");
  await api.put(`/v1/me/devices/${sid}/push`, local.toJSON());
}

function sessionId() {
  const who = api.session();
  return (who && !who.offline && who.claims && who.claims.sid) || null;
}

async function thisDevice() {
  const { items } = await api.get("/v1/me/devices");
  return items.find((d) => d.current) || null;
}

async function pushManager() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return null;
  // `ready` waits for a service worker that may never come (registration failed).
  const registration = await Promise.race([navigator.serviceWorker.ready, new Promise((resolve) => setTimeout(resolve, 5000, null))]);
  return (registration && registration.pushManager) || null;
}

function sameKey(subscription, key) {
  const used = subscription.options && subscription.options.applicationServerKey;
  if (!used) return true; // the browser does not say: keep it
  return toBase64Url(new Uint8Array(used)) === key;
}

function fromBase64Url(text) {
  const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function toBase64Url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// The one client of the public API every screen uses: the access token in memory only, the
// refresh token in an HttpOnly cookie the page cannot read (refreshed with the CSRF cookie's
// value in a header), problems as ApiError, cursors, Idempotency-Key on writes.

import { uuid } from "./dom.js";

// Ask the API to keep the refresh token in its cookie, never in the body (docs/api.md).
const SESSION_HEADER = { "Quark-Session": "cookie" };
const CSRF_COOKIE = "quark_csrf";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    // Problems name their kind as `quark:<code>` (docs/api.md); `code` is what screens switch on.
    const type = String(problem.type || "");
    this.code = type.startsWith("quark:") ? type.slice(6) : status === 0 ? "offline" : `http-${status}`;
    this.errors = problem.errors || [];
  }

  /** The message for the field `name`, if the problem names one. */
  field(name) {
    const hit = this.errors.find((e) => (e.field || e.pointer || "").replace(/^\/|^\$\./, "") === name);
    return hit ? hit.detail || hit.message : null;
  }
}

let access = null;
let reachable = true;
const reachListeners = new Set();

/** Whether the last API call reached the server (false: offline, or answered from cache). */
export function online() {
  return reachable;
}

export function onReachable(fn) {
  reachListeners.add(fn);
  return () => reachListeners.delete(fn);
}

function reached(value) {
  if (value === reachable) return;
  reachable = value;
  for (const fn of reachListeners) fn(value);
}
let me = null;
let refreshing = null;
const sessionListeners = new Set();

/** Who is signed in (the token's claims plus the profile once loaded), or null. */
export function session() {
  return me;
}

export function onSession(fn) {
  sessionListeners.add(fn);
  return () => sessionListeners.delete(fn);
}

function claims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(part))));
}

// Who was signed in last on this browser (id and roles only: nothing secret), so that an
// offline reload can still show that person what the service worker kept for them.
const LAST_USER = "quark.last-user";

function setSession(tokens, offlineUser = null) {
  const before = me && me.id;
  if (offlineUser) {
    access = null;
    me = { ...offlineUser, offline: true, expires: Infinity };
  } else if (!tokens) {
    access = null;
    me = null;
    localStorage.removeItem(LAST_USER);
  } else {
    access = tokens.access_token;
    const c = claims(access);
    me = { id: c.sub, roles: c.roles || [], restricted: !!c.restricted, claims: c, expires: c.exp * 1000 };
    localStorage.setItem(LAST_USER, JSON.stringify({ id: me.id, roles: me.roles }));
  }
  if ((me && me.id) !== before) for (const fn of sessionListeners) fn(me);
}

function lastUser() {
  try {
    const user = JSON.parse(localStorage.getItem(LAST_USER) || "null");
    return user && typeof user.id === "string" ? user : null;
  } catch {
    return null;
  }
}

export function accessToken() {
  return access;
}

function csrf() {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(`${CSRF_COOKIE}=`));
  return hit ? decodeURIComponent(hit.slice(CSRF_COOKIE.length + 1)) : "";
}

/** A new access token from the refresh cookie (one at a time); false when signed out. */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await fetch("/v1/auth/refresh", {
          method: "POST",
          headers: { ...SESSION_HEADER, "Quark-CSRF": csrf(), "Content-Type": "application/json" },
          body: "{}",
          credentials: "same-origin",
        });
        if (!response.ok) {
          if (response.status === 401 || response.status === 403) setSession(null);
          return false;
        }
        setSession(await response.json());
        return true;
      } catch {
        // Offline: keep who was signed in, to read what was kept for them; a refresh when
        // the connection is back makes it a real session again.
        reached(false);
        if (!me && lastUser()) setSession(null, lastUser());
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

/** Keep the signed-in session: what the sign-in routes answered. */
export function signedIn(tokens) {
  setSession(tokens);
}

export async function signOut() {
  try {
    await request("POST", "/v1/auth/logout", { body: {} });
  } catch {
    // Signed out here regardless; the session ends on the server when it next can.
  }
  setSession(null);
  if (navigator.serviceWorker && navigator.serviceWorker.controller) {
    navigator.serviceWorker.controller.postMessage({ type: "forget" });
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * request("GET", "/v1/posts", {query: {cursor}}) -> the decoded body.
 * Writes carry an Idempotency-Key (given, or a fresh one): retrying the same call object
 * converges on one write. A 401 refreshes once and retries; problems throw ApiError; a
 * network failure throws ApiError with status 0 (code "offline").
 */
export async function request(method, path, options = {}) {
  const { body, query: params, idempotencyKey, raw, signal, headers: extra } = options;
  const headers = { Accept: "application/json", ...extra };
  if (access && me && me.expires - Date.now() < 30_000) await refresh();
  if (access) headers.Authorization = `Bearer ${access}`;
  if (me) headers["Quark-Reader"] = me.id;
  if (method !== "GET" && method !== "HEAD") {
    headers["Idempotency-Key"] = idempotencyKey || uuid();
  }
  let payload;
  if (body instanceof Blob || body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (path.startsWith("/v1/auth/")) Object.assign(headers, SESSION_HEADER);
  let response;
  try {
    response = await fetch(path + query(params), { method, headers, body: payload, signal, credentials: "same-origin" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    reached(false);
    throw new ApiError(0, { title: "offline" });
  }
  reached(!response.headers.get("Quark-Offline"));
  if (response.status === 401 && access && !options.retried && !path.startsWith("/v1/auth/")) {
    if (await refresh()) return request(method, path, { ...options, retried: true, idempotencyKey: headers["Idempotency-Key"] });
  }
  if (raw) return response;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data || { title: response.statusText });
  if (data && typeof data === "object" && response.headers.get("Quark-Offline")) {
    Object.defineProperty(data, "offline", { value: true });
  }
  return data;
}

export const get = (path, params, options = {}) => request("GET", path, { ...options, query: params });
export const post = (path, body, options = {}) => request("POST", path, { ...options, body });
export const put = (path, body, options = {}) => request("PUT", path, { ...options, body });
export const patch = (path, body, options = {}) => request("PATCH", path, { ...options, body });
export const del = (path, options = {}) => request("DELETE", path, options);

/**
 * Upload a file with progress (fetch has no upload progress): resolves to the media record.
 */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/media");
    xhr.setRequestHeader("Authorization", `Bearer ${access}`);
    xhr.setRequestHeader("Idempotency-Key", uuid());
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = { title: xhr.statusText };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data));
    };
    xhr.onerror = () => reject(new ApiError(0, { title: "offline" }));
    xhr.send(file);
  });
}

/** Every page of a cursor-paged list, one at a time: `for await (const page of pages(...))`. */
export async function* pages(path, params = {}) {
  let cursor;
  do {
    const page = await get(path, { ...params, cursor });
    yield page;
    cursor = page.next_cursor;
  } while (cursor);
}

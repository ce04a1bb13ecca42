// The gateway: one websocket for the whole app (docs/websocket.md), shared by every screen.
// Its cursor is kept in localStorage per person, so after a reload or a night offline the
// app resumes where it stopped with no gap; `reset` tells screens to refetch. Messages
// written offline wait in an outbox (IndexedDB) and are sent on reconnect with their
// client-chosen ids, so each is delivered once however often it is retried.

import * as api from "./api.js";
import { outbox } from "./store.js";

const listeners = new Map(); // item type (or "*", "reset", "typing", "presence", "state") -> set of fns
let socket = null;
let userId = null;
let backoff = 500;
let timer = null;
let refs = 0;
const pending = new Map(); // ref -> {resolve, reject}
export let state = "offline"; // offline | connecting | online

function cursorKey() {
  return `quark.cursor.${userId}`;
}

function cursor() {
  const value = localStorage.getItem(cursorKey());
  return value === null ? undefined : Number(value);
}

function emit(kind, payload) {
  for (const fn of listeners.get(kind) || []) {
    try {
      fn(payload);
    } catch (error) {
      console.error(error);
    }
  }
}

function setState(next) {
  state = next;
  emit("state", next);
}

/**
 * An item this page caused and already knows (its own write was answered): told to the
 * page's listeners at once, not when the gateway's copy arrives, so every part of the page
 * agrees straight away. Its listeners set state rather than flip it: the gateway's copy
 * comes as well.
 */
export function local(kind, payload) {
  emit(kind, payload);
}

/** on("message.new", fn) -> unsubscribe. Kinds: item types, "*", reset, typing, presence, state. */
export function on(kind, fn) {
  if (!listeners.has(kind)) listeners.set(kind, new Set());
  listeners.get(kind).add(fn);
  return () => listeners.get(kind).delete(fn);
}

export function start() {
  const who = api.session();
  if (!who) return;
  if (socket && userId === who.id) return;
  stop();
  userId = who.id;
  connect();
}

export function stop() {
  clearTimeout(timer);
  userId = null;
  if (socket) {
    const s = socket;
    socket = null;
    s.close(1000);
  }
  setState("offline");
}

function connect() {
  if (!userId || !navigator.onLine) {
    setState("offline");
    return;
  }
  setState("connecting");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/ws`);
  socket = ws;
  ws.onopen = () => {
    const frame = { type: "auth", token: api.accessToken() };
    const c = cursor();
    if (c !== undefined) frame.cursor = c;
    ws.send(JSON.stringify(frame));
  };
  ws.onmessage = (event) => receive(JSON.parse(event.data));
  ws.onclose = (event) => closed(ws, event);
}

function remember(c) {
  if (typeof c === "number") localStorage.setItem(cursorKey(), String(c));
}

function receive(frame) {
  switch (frame.type) {
    case "ready":
      backoff = 500;
      remember(frame.cursor);
      setState("online");
      flushOutbox();
      break;
    case "item":
      emit(frame.item.type, frame.item);
      emit("*", frame.item);
      remember(frame.cursor);
      break;
    case "reset":
      remember(frame.cursor);
      emit("reset", frame);
      break;
    case "typing":
    case "presence":
      emit(frame.type, frame);
      break;
    case "result": {
      const waiting = pending.get(frame.ref);
      if (waiting) {
        pending.delete(frame.ref);
        waiting.resolve(frame);
      }
      break;
    }
    default:
      break;
  }
}

async function closed(ws, event) {
  if (socket !== ws) return;
  socket = null;
  for (const [, waiting] of pending) waiting.reject(new Error("disconnected"));
  pending.clear();
  if (!userId) return;
  setState("offline");
  if (event.code === 4403 || event.code === 4400) return;
  if (event.code === 4422) localStorage.removeItem(cursorKey());
  if (event.code === 4008) {
    try {
      remember(JSON.parse(event.reason).cursor);
    } catch {
      // no cursor given: resume from the last one kept
    }
  }
  if (event.code === 4401 && !(await api.refresh())) return;
  timer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 30_000);
}

addEventListener("online", () => {
  if (userId && !socket) {
    clearTimeout(timer);
    backoff = 500;
    connect();
  }
});
// A browser that says it is offline has lost the network: the socket it holds is dead even
// if no close has come yet (that takes the heartbeat's 45 s). Drop it now, so that coming
// back online reconnects with the cursor (the items missed meanwhile) and flushes the outbox.
addEventListener("offline", () => {
  const ws = socket;
  if (ws) {
    socket = null;
    for (const [, waiting] of pending) waiting.reject(new Error("disconnected"));
    pending.clear();
    ws.close(1000);
  }
  setState("offline");
});

/** Send a request frame; resolves to its `result` frame. */
export function request(frame) {
  return new Promise((resolve, reject) => {
    if (!socket || state !== "online") {
      reject(new Error("offline"));
      return;
    }
    const ref = `r${++refs}`;
    pending.set(ref, { resolve, reject });
    socket.send(JSON.stringify({ ...frame, ref }));
  });
}

/** Tell the others in a conversation that I am typing (the gateway passes it on at most every few seconds). */
export function typing(conversationId) {
  if (socket && state === "online") socket.send(JSON.stringify({ type: "typing", conversation_id: conversationId }));
}

/**
 * Send a message: over the gateway when online, else into the outbox (sent on reconnect).
 * The id is chosen here, so a retry or a second flush is the same message.
 */
export async function send(conversationId, body, extra = {}) {
  const message = { id: extra.id || crypto.randomUUID(), conversation_id: conversationId, body, ...extra };
  if (state === "online") {
    try {
      const result = await request({ type: "send", ...message });
      if (result.status < 500) return result;
    } catch {
      // fell offline while sending: queued below
    }
  }
  await outbox.put(userId, message);
  emit("outbox", await outbox.all(userId));
  return { status: 202, queued: true, body: message };
}

/** The messages waiting in the outbox (of one conversation, or all), oldest first. */
export async function queued(conversationId) {
  if (!userId) return [];
  const all = await outbox.all(userId);
  return conversationId ? all.filter((m) => m.conversation_id === conversationId) : all;
}

let flushing = false;
async function flushOutbox() {
  if (flushing || !userId) return;
  flushing = true;
  try {
    for (const message of await outbox.all(userId)) {
      const { conversation_id: cid, ...body } = message;
      try {
        await api.post(`/v1/conversations/${cid}/messages`, body, { idempotencyKey: message.id });
        await outbox.remove(message.id);
      } catch (error) {
        if (error.status === 0 || error.status >= 500) break; // still offline: next reconnect
        await outbox.remove(message.id); // refused for good (422, 403): do not retry forever
        emit("outbox-refused", { message, error });
      }
    }
    emit("outbox", await outbox.all(userId));
  } finally {
    flushing = false;
  }
}

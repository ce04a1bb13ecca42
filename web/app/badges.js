// The nav's badges on every screen: unread messages (summed over my conversations that are
// not muted) and unread notifications, and each conversation's unread counts for the
// messenger's list.
//
// Counts move with the gateway's items rather than by refetching on each one: items are
// published before the batch that made them commits, so a read made on an item may answer
// a moment behind it. Refetches happen only where they are sure to be current: at start
// and after a `reset`, and after my own read marker moves (my own write, which my next read
// waits for). A message counts once: each conversation remembers the `seq` it has counted
// up to, and an item at or below it is already in the count.

import * as api from "./api.js";
import * as live from "./live.js";

const conversations = new Map(); // id -> { unread, mentions, seq, muted }
let unreadNotes = new Set(); // ids of unread notifications this device knows of
let notesUnread = 0;
let viewing = null; // the conversation open on screen: its messages are read as they come
const listeners = new Set();
let show = () => {};

function publish() {
  let messages = 0;
  for (const c of conversations.values()) if (!c.muted) messages += c.unread;
  show("messages", messages);
  show("notifications", notesUnread);
  for (const fn of listeners) fn();
}

function state(view) {
  return {
    unread: view.unread_count,
    mentions: view.mention_count,
    seq: view.last_message ? view.last_message.seq : 0,
    muted: view.muted,
  };
}

/** Take conversation views (a fresh list page) as the counts they show. */
export function seed(views) {
  for (const view of views) {
    const known = conversations.get(view.id);
    const next = state(view);
    // A view older than items already counted keeps the items' count.
    if (!known || next.seq >= known.seq) conversations.set(view.id, next);
  }
  publish();
}

/** A conversation's counts ({unread, mentions, muted}), or null when not known. */
export function conversation(id) {
  return conversations.get(id) || null;
}

/** The conversation shown now (null: none): its messages are read as they arrive. */
export function setViewing(id) {
  viewing = id;
}

/** Changes to any count: fn() -> unsubscribe. */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Mark notifications read here at once (the items saying so follow). No ids: all. */
export function notificationsRead(ids) {
  if (!ids) {
    unreadNotes = new Set();
    notesUnread = 0;
  } else {
    for (const id of ids) {
      if (unreadNotes.delete(id)) notesUnread -= 1;
    }
  }
  publish();
}

/** Take a fresh page of notifications as the unread ones (its `unread` total too). */
export function seedNotifications(page) {
  for (const n of page.items) {
    if (n.read) unreadNotes.delete(n.id);
    else unreadNotes.add(n.id);
  }
  notesUnread = Math.max(page.unread, unreadNotes.size);
  publish();
}

async function load() {
  try {
    const [list, notes] = await Promise.all([
      api.get("/v1/conversations", { limit: 100 }),
      api.get("/v1/notifications", { unread: "true", limit: 100 }),
    ]);
    conversations.clear();
    seed(list.items);
    unreadNotes = new Set(notes.items.map((n) => n.id));
    notesUnread = notes.unread;
    publish();
  } catch {
    // Offline or restricted: the badges stay as they were.
  }
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function refetch(id, tries = 5) {
  try {
    const detail = await api.get(`/v1/conversations/${id}`);
    const next = state(detail.conversation);
    const known = conversations.get(id);
    if (known && next.seq < known.seq && tries > 1) {
      // The read model is behind items already counted: ask again in a moment.
      await wait(300);
      return refetch(id, tries - 1);
    }
    conversations.set(id, next);
  } catch (error) {
    if (error.status === 404) conversations.delete(id);
  }
  publish();
}

function onMessage(item) {
  const message = item.message;
  const who = api.session();
  let c = conversations.get(item.conversation_id);
  if (!c) {
    c = { unread: 0, mentions: 0, seq: 0, muted: false };
    conversations.set(item.conversation_id, c);
  }
  if (message.seq <= c.seq) return;
  c.seq = message.seq;
  const seen = viewing === item.conversation_id && document.visibilityState === "visible";
  if (who && message.sender_id !== who.id && !seen) {
    c.unread += 1;
    if (who.handle && (message.mentions || []).includes(who.handle)) c.mentions += 1;
  }
  publish();
}

function onNotification(item) {
  const n = item.notification;
  if (!n.read && !unreadNotes.has(n.id)) {
    unreadNotes.add(n.id);
    notesUnread += 1;
  } else if (n.read && unreadNotes.delete(n.id)) {
    notesUnread -= 1;
  }
  publish();
}

/** Start keeping the badges (main.js gives the function that draws them). */
export function watch(setBadge) {
  show = setBadge;
  live.on("message.new", onMessage);
  live.on("conversation.read", (item) => {
    const who = api.session();
    if (who && item.user_id === who.id) refetch(item.conversation_id);
  });
  live.on("message.deleted", (item) => refetch(item.conversation_id));
  live.on("conversation.joined", (item) => refetch(item.conversation_id));
  live.on("conversation.left", (item) => {
    conversations.delete(item.conversation_id);
    publish();
  });
  live.on("conversation.muted", (item) => {
    const c = conversations.get(item.conversation_id);
    if (c) c.muted = item.muted;
    publish();
  });
  live.on("notification", onNotification);
  live.on("notification.removed", (item) => {
    if (unreadNotes.delete(item.notification_id)) notesUnread -= 1;
    publish();
  });
  live.on("reset", load);
  api.onSession((who) => {
    conversations.clear();
    unreadNotes = new Set();
    notesUnread = 0;
    if (who) load();
  });
  if (api.session()) load();
}

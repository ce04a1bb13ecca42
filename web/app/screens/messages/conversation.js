// One conversation (direct, group or channel): its history newest at the bottom, older
// pages loaded on scrolling up; live messages, edits and deletes (tombstones); who is
// typing; read receipts on my latest message; replies; my unsent messages ("sending…")
// from the gateway's outbox until they arrive; marking what I see read. With `panel`, the
// group's or channel's settings (screens/messages/manage.js) in place of the messages.

import * as api from "../../api.js";
import * as badges from "../../badges.js";
import { h, clear, uuid } from "../../dom.js";
import { t } from "../../i18n.js";
import * as live from "../../live.js";
import { announce, problemText, spinner } from "../../ui.js";
import { nameOf } from "../../elements/listing.js";
import { titleNode, wait } from "./common.js";
import { composer } from "./composer.js";
import { managePanel } from "./manage.js";
import { drawMessage, messageItem } from "./message.js";

const MANAGERS = ["owner", "admin"];
const PAGE = 30;

export async function conversationView(pane, conversationId, { panel = false } = {}) {
  const me = api.session().id;
  let detail = null;
  let people = new Map();
  let readUpTo = null; // user id -> seq, where the conversation has receipts
  let myRead = 0;
  let olderCursor = null;
  let loadingOlder = false;
  let gone = false; // removed from it, or left
  let statusOn = null; // the id of my message showing the read state
  let reading = false; // a read marker on its way
  const shown = new Map(); // message id -> {message, li}
  const typists = new Map(); // user id -> timer
  const quoted = new Map(); // message id -> a message replied to that is not on screen
  const asked = new Set(); // the ids of those asked for

  const list = h("ol", { class: "messages", "aria-label": t("chat.conversation.messages") });
  const olderButton = h("button", { type: "button", class: "link", onclick: () => loadOlder() }, t("chat.conversation.older"));
  const older = h("p", { class: "chat-older", hidden: true }, olderButton);
  const scroller = h("div", { class: "chat-scroll" }, older, list);
  const typing = h("p", { class: "typing", "aria-live": "polite" });
  const status = h("p", { class: "muted chat-status", role: "status" });
  const heading = h("h1", { class: "chat-title" });
  const subtitle = h("p", { class: "muted small chat-subtitle" });
  const headActions = h("div", { class: "row chat-head-actions" });
  // Channels carry no typing signal (the gateway refuses it there).
  const writer = composer({ onSend: send, onTyping: () => kind() !== "channel" && live.typing(conversationId) });
  const panelSlot = h("div", { class: "manage-slot" });
  let settings = null; // the settings panel, once the conversation is read

  clear(
    pane,
    h(
      "div",
      { class: "chat-view" },
      h(
        "header",
        { class: "chat-head" },
        h("a", { class: "chat-back", href: "/messages" }, h("span", { "aria-hidden": "true" }, "←"), h("span", {}, t("chat.conversation.back"))),
        h("div", { class: "chat-head-main" }, heading, subtitle),
        headActions,
      ),
      status,
      panel ? panelSlot : [scroller, typing, writer.element],
    ),
  );

  const role = () => (detail ? detail.conversation.my_role : null);
  const kind = () => (detail ? detail.conversation.kind : "direct");

  const ctx = {
    conversationId,
    me,
    people,
    get kind() {
      return kind();
    },
    get manager() {
      return MANAGERS.includes(role());
    },
    get canWrite() {
      return canWrite();
    },
    find: (id) => (shown.get(id) || {}).message || quoted.get(id) || (fetchQuoted(id), null),
    status: statusOf,
    statusParams: (message) => ({ count: readersOf(message) }),
    onReply: (message) => writer.replyTo(message, message.sender || people.get(message.sender_id)),
    changed: (message) => redraw(message.id),
    error: (text) => (status.textContent = text),
  };

  function canWrite() {
    if (gone || !detail || role() === null) return false;
    const c = detail.conversation;
    return c.kind !== "channel" || c.everyone_posts || MANAGERS.includes(role());
  }

  function others() {
    return Object.keys(readUpTo || {}).filter((u) => u !== me);
  }

  function readersOf(message) {
    return others().filter((u) => readUpTo[u] >= message.seq).length;
  }

  function statusOf(message) {
    if (message.pending) return "chat.status.sending";
    if (message.failed) return "chat.status.failed";
    if (message.id !== statusOn || !readUpTo) return null;
    const readers = readersOf(message);
    if (!readers) return "chat.status.sent";
    if (kind() === "direct" || readers >= others().length) return "chat.status.read";
    return "chat.status.read_by";
  }

  function drawHead() {
    const c = detail.conversation;
    clear(heading, titleNode(c));
    const count = c.member_count;
    subtitle.textContent = c.kind === "direct" ? "" : t(`chat.conversation.members_${c.kind}`, { count });
    subtitle.hidden = c.kind === "direct";
    const buttons = [];
    if (role() !== null && !gone) {
      buttons.push(
        h(
          "button",
          { type: "button", "aria-pressed": String(!!c.muted), onclick: toggleMute },
          t(c.muted ? "chat.conversation.unmute" : "chat.conversation.mute"),
        ),
      );
    }
    if (panel) {
      buttons.push(h("a", { class: "button", href: `/messages/${conversationId}` }, t("chat.manage.back")));
    } else if (c.kind !== "direct" && role() !== null && !gone) {
      buttons.push(h("a", { class: "button", href: `/messages/${conversationId}?panel=settings` }, t(`chat.manage.open_${c.kind}`)));
    }
    if (c.kind === "channel" && role() === null) {
      buttons.push(h("button", { type: "button", class: "primary", onclick: join }, t("chat.conversation.join")));
    }
    clear(headActions, buttons);
    if (gone) writer.enable(false, "chat.composer.left");
    else if (role() === null) writer.enable(false, "chat.composer.join_first");
    else if (!canWrite()) writer.enable(false, "chat.composer.channel_closed");
    else writer.enable(true);
  }

  async function toggleMute() {
    const c = detail.conversation;
    const next = !c.muted; // set, not flipped: the gateway's item may have come first
    try {
      if (next) await api.put(`/v1/conversations/${conversationId}/mute`, {});
      else await api.del(`/v1/conversations/${conversationId}/mute`);
      // The list and the badges hear of it now, not when the gateway's item arrives.
      live.local("conversation.muted", { conversation_id: conversationId, muted: next });
      headActions.querySelector("button")?.focus();
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  async function join() {
    try {
      await api.post(`/v1/conversations/${conversationId}/join`, {});
      await reloadDetail();
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  function takeDetail(next) {
    detail = next;
    people.clear();
    for (const [id, person] of Object.entries(next.people || {})) people.set(id, person);
    readUpTo = next.read_up_to ? { ...next.read_up_to } : null;
    if (readUpTo && readUpTo[me] !== undefined) myRead = Math.max(myRead, readUpTo[me]);
    drawHead();
  }

  async function reloadDetail() {
    try {
      takeDetail(await api.get(`/v1/conversations/${conversationId}`));
      if (settings) settings.draw();
      for (const id of shown.keys()) redraw(id);
    } catch (error) {
      if (error.status === 404) {
        gone = true;
        drawHead();
      }
    }
  }

  // -- the messages, in order of `seq` (my unsent ones last) --------------------------------

  function lastDelivered() {
    for (let li = list.lastElementChild; li; li = li.previousElementSibling) {
      const entry = shown.get(li.dataset.message);
      if (entry && !entry.message.pending && !entry.message.failed) return entry.message;
    }
    return null;
  }

  function myLatest() {
    for (let li = list.lastElementChild; li; li = li.previousElementSibling) {
      const m = shown.get(li.dataset.message)?.message;
      if (m && !m.pending && !m.failed && !m.deleted && m.sender_id === me) return m;
    }
    return null;
  }

  function moveStatus() {
    const latest = myLatest();
    const next = latest ? latest.id : null;
    if (next === statusOn) return;
    const before = statusOn;
    statusOn = next;
    if (before) redraw(before);
    if (next) redraw(next);
  }

  function redraw(id) {
    const entry = shown.get(id);
    if (entry) drawMessage(entry.li, entry.message, ctx);
  }

  // A message replied to that is older than the pages shown: read once, then its replies
  // are drawn again with the quote.
  async function fetchQuoted(id) {
    if (asked.has(id) || panel) return;
    asked.add(id);
    try {
      const answer = await api.get(`/v1/conversations/${conversationId}/messages/${id}`);
      quoted.set(id, answer.message);
      requote(id);
    } catch {
      // Gone or offline: the reply says it answers an earlier message.
    }
  }

  function requote(id) {
    for (const [other, entry] of shown) if (entry.message.reply_to === id) redraw(other);
  }

  // A page comes newest first: placed oldest first, a quoted message is there before its
  // replies; replies already shown to messages of an older page get their quote now.
  function placePage(items) {
    const added = items.filter((message) => !shown.has(message.id)).reverse();
    for (const message of added) place(message);
    for (const message of added) requote(message.id);
  }

  function place(message) {
    const li = messageItem(message, ctx);
    shown.set(message.id, { message, li });
    if (message.pending || message.failed) {
      list.append(li);
      return;
    }
    // Before the first message that comes later (or my unsent ones, which go last).
    let next = null;
    for (let other = list.lastElementChild; other; other = other.previousElementSibling) {
      const m = shown.get(other.dataset.message)?.message;
      if (m && (m.pending || m.failed || m.seq > message.seq)) next = other;
      else break;
    }
    list.insertBefore(li, next);
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function toBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  async function withMedia(message) {
    if (!message.media_ids || !message.media_ids.length || message.media) return;
    try {
      const answer = await api.get(`/v1/conversations/${conversationId}/messages/${message.id}`);
      message.media = answer.message.media;
      redraw(message.id);
    } catch {
      // The attachments show on the next load.
    }
  }

  function receive(message) {
    if (panel) return; // the settings are shown, not the messages
    const known = shown.get(message.id);
    const stick = nearBottom() || message.sender_id === me;
    if (known && !known.message.pending && !known.message.failed) return; // an item again
    if (known) {
      // My unsent message arrived: it takes its place among the delivered ones.
      known.li.remove();
      shown.delete(message.id);
    }
    place({ ...message, media: message.media || null, deleted: false, edited_at: null });
    if (message.sender_id === me) myRead = Math.max(myRead, message.seq);
    else {
      stopTyping(message.sender_id);
      const who = people.get(message.sender_id);
      announce(t("chat.announce", { name: nameOf(who) || t("chat.message.someone"), body: message.body || t("chat.attachment") }));
    }
    withMedia(shown.get(message.id).message);
    moveStatus();
    if (stick) toBottom();
    markRead();
  }

  async function send(draft) {
    const message = { id: uuid(), conversation_id: conversationId, seq: Infinity, sender_id: me, body: draft.body, reply_to: draft.reply_to, media_ids: draft.media_ids, sent_at: null, pending: true };
    place(message);
    toBottom();
    const extra = { id: message.id, media_ids: draft.media_ids };
    if (draft.reply_to) extra.reply_to = draft.reply_to;
    const result = await live.send(conversationId, draft.body, extra);
    if (result.queued || result.status < 300) return null;
    // Refused (too long, not allowed, too fast): nothing was sent.
    shown.get(message.id)?.li.remove();
    shown.delete(message.id);
    return problemText(new api.ApiError(result.status, result.body || {}));
  }

  async function markRead() {
    if (panel || reading || gone || role() === null || document.visibilityState !== "visible") return;
    const last = lastDelivered();
    if (!last || last.seq <= myRead) return;
    reading = true;
    try {
      await api.post(`/v1/conversations/${conversationId}/read`, { up_to: last.id });
      myRead = Math.max(myRead, last.seq);
    } catch {
      return; // offline: read when the next message comes or the page is seen again
    } finally {
      reading = false;
    }
    markRead();
  }

  async function loadOlder() {
    if (loadingOlder || !olderCursor) return;
    loadingOlder = true;
    olderButton.replaceChildren(spinner());
    const height = scroller.scrollHeight;
    try {
      const page = await api.get(`/v1/conversations/${conversationId}/messages`, { cursor: olderCursor, limit: PAGE });
      placePage(page.items);
      olderCursor = page.next_cursor;
      scroller.scrollTop += scroller.scrollHeight - height; // keep what was read in view
    } catch (error) {
      status.textContent = problemText(error);
    } finally {
      loadingOlder = false;
      olderButton.replaceChildren(t("chat.conversation.older"));
      older.hidden = !olderCursor;
    }
  }

  // Messages missed while the gateway could not say (after a `reset`): those after the
  // last one shown, oldest first.
  async function catchUp() {
    const last = lastDelivered();
    if (!last) return load();
    try {
      const page = await api.get(`/v1/conversations/${conversationId}/messages`, { since: last.id, limit: 100 });
      for (const message of page.items) receive(message);
    } catch {
      // Offline: the gateway resumes from its cursor when back.
    }
  }

  async function load() {
    status.replaceChildren(spinner());
    const [next, page] = await Promise.all([
      api.get(`/v1/conversations/${conversationId}`),
      api.get(`/v1/conversations/${conversationId}/messages`, { limit: PAGE }),
    ]);
    status.textContent = page.offline ? t("shell.offline") : "";
    takeDetail(next);
    if (!readUpTo) myRead = next.conversation.unread_count ? 0 : Infinity;
    placePage(page.items);
    for (const message of await live.queued(conversationId)) {
      if (!shown.has(message.id)) place({ ...message, seq: Infinity, sender_id: me, sent_at: null, pending: true });
    }
    olderCursor = page.next_cursor;
    older.hidden = !olderCursor;
    moveStatus();
    toBottom();
    if (!list.children.length) status.textContent = t("chat.conversation.empty");
    if (myRead === Infinity) myRead = lastDelivered() ? lastDelivered().seq : 0;
    markRead();
  }

  // -- typing ------------------------------------------------------------------------------

  function drawTyping() {
    const names = [...typists.keys()].map((id) => nameOf(people.get(id))).filter(Boolean);
    if (!typists.size) clear(typing);
    else if (names.length === 1 && typists.size === 1) clear(typing, h("span", {}, t("chat.typing.one", { name: names[0] })));
    else clear(typing, h("span", {}, t("chat.typing.many", { count: typists.size })));
  }

  function stopTyping(userId) {
    clearTimeout(typists.get(userId));
    if (typists.delete(userId)) drawTyping();
  }

  // -- live --------------------------------------------------------------------------------

  const here = (fn) => (item) => {
    if (item.conversation_id === conversationId) fn(item);
  };
  const off = [
    live.on("message.new", here((item) => receive(item.message))),
    live.on("message.edited", here((item) => {
      const entry = shown.get(item.message_id);
      if (!entry) return;
      Object.assign(entry.message, { body: item.body, edited_at: item.edited_at });
      redraw(item.message_id);
      requote(item.message_id);
    })),
    live.on("message.deleted", here((item) => {
      const entry = shown.get(item.message_id);
      if (!entry) return;
      Object.assign(entry.message, { deleted: true, body: "", media: [], media_ids: [] });
      redraw(item.message_id);
      requote(item.message_id);
      moveStatus();
    })),
    live.on("conversation.read", here((item) => {
      if (item.user_id === me) {
        myRead = Math.max(myRead, item.seq);
        return;
      }
      if (!readUpTo) return;
      readUpTo[item.user_id] = Math.max(readUpTo[item.user_id] || 0, item.seq);
      if (statusOn) redraw(statusOn);
    })),
    live.on("typing", here((frame) => {
      if (frame.user_id === me) return;
      clearTimeout(typists.get(frame.user_id));
      typists.set(frame.user_id, setTimeout(() => stopTyping(frame.user_id), 5000));
      drawTyping();
    })),
    live.on("conversation.changed", here((item) => {
      if (!detail) return;
      if (item.title !== undefined) detail.conversation.name = item.title;
      if (item.everyone_posts !== undefined && item.everyone_posts !== null) detail.conversation.everyone_posts = item.everyone_posts;
      drawHead();
    })),
    live.on("conversation.left", here(() => {
      gone = true;
      drawHead();
      status.textContent = t("chat.conversation.left");
    })),
    live.on("conversation.muted", here((item) => {
      if (!detail) return;
      detail.conversation.muted = item.muted;
      drawHead();
    })),
    // Membership changed by someone else: read it again (a moment later if the read model
    // has not caught up with the item yet).
    ...["conversation.members_added", "conversation.member_removed", "conversation.role_changed", "conversation.joined"].map((type) =>
      live.on(type, here(async () => {
        await reloadDetail();
        await wait(500);
        await reloadDetail();
      })),
    ),
    live.on("outbox-refused", ({ message }) => {
      const entry = shown.get(message.id);
      if (!entry) return;
      Object.assign(entry.message, { pending: false, failed: true });
      redraw(message.id);
    }),
    live.on("reset", () => {
      reloadDetail();
      catchUp();
    }),
  ];
  const seen = () => markRead();
  document.addEventListener("visibilitychange", seen);
  // A conversation read at its end stays at its end when the pane changes size (a phone
  // turned, the keyboard opening, a picture loading).
  let pinned = true;
  scroller.addEventListener("scroll", () => (pinned = nearBottom()), { passive: true });
  const resized = new ResizeObserver(() => pinned && toBottom());
  resized.observe(scroller);
  resized.observe(list);
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadOlder();
  }, { root: scroller });

  async function loadPanel() {
    takeDetail(await api.get(`/v1/conversations/${conversationId}`));
    if (detail.conversation.kind === "direct") return; // nothing to manage: the way back only
    settings = managePanel({ conversationId, detail: () => detail, me, reload: reloadDetail });
    clear(panelSlot, settings.element);
  }

  if (!panel) badges.setViewing(conversationId);
  try {
    await (panel ? loadPanel() : load());
  } catch (error) {
    status.textContent = problemText(error);
    writer.enable(false);
    if (error.status === 404) clear(heading, t("error.not_found.title"));
  }
  observer.observe(older);
  return () => {
    off.forEach((fn) => fn());
    for (const timer of typists.values()) clearTimeout(timer);
    observer.disconnect();
    resized.disconnect();
    document.removeEventListener("visibilitychange", seen);
    badges.setViewing(null);
  };
}


// The conversation list: mine, latest activity first, each with its last message and its
// unread and mention counts (GET /v1/conversations), kept current by the gateway's items.
// The counts come from badges.js, which keeps them for the nav's badge too.

import * as api from "../../api.js";
import * as badges from "../../badges.js";
import { h, clear, userText } from "../../dom.js";
import * as i18n from "../../i18n.js";
import { t } from "../../i18n.js";
import * as live from "../../live.js";
import { empty, problemText, spinner } from "../../ui.js";
import { avatar, nameOf, shortTime } from "../../elements/listing.js";
import { titleNode, titleOf, wait } from "./common.js";
import { openStartDialog } from "./start.js";

function preview(view) {
  const last = view.last_message;
  if (!last) return h("span", { class: "muted" }, t("chat.list.no_messages"));
  if (last.deleted) return h("span", { class: "muted" }, t("chat.message.deleted"));
  const me = api.session();
  const mine = me && last.sender_id === me.id;
  const body = last.body || (last.media_ids && last.media_ids.length ? t("chat.attachment") : "");
  return h(
    "span",
    {},
    mine ? h("span", { class: "muted" }, t("chat.list.you"), " ") : null,
    !mine && view.kind !== "direct" && last.sender ? h("span", { class: "muted" }, userText(nameOf(last.sender)), ": ") : null,
    userText(body),
  );
}

function counts(view) {
  const c = badges.conversation(view.id) || { unread: view.unread_count, mentions: view.mention_count, muted: view.muted };
  return h(
    "span",
    { class: "chat-counts" },
    c.muted ? h("span", { class: "chip small" }, t("chat.muted")) : null,
    c.mentions ? h("span", { class: "badge mention" }, h("span", { "aria-hidden": "true" }, "@"), h("span", { class: "visually-hidden" }, t("chat.list.mentions", { count: c.mentions }))) : null,
    c.unread
      ? h("span", { class: `badge unread${c.muted ? " quiet" : ""}` }, h("span", { "aria-hidden": "true", "data-fmt": "" }, i18n.number(c.unread)), h("span", { class: "visually-hidden" }, t("messages.unread", { count: c.unread })))
      : null,
  );
}

/** Draw the list into `pane`; `current` is the conversation open beside it. -> cleanup */
export async function conversationList(pane, { current, heading }) {
  const views = new Map(); // id -> conversation view
  const links = new Map(); // id -> <a>
  const list = h("ul", { class: "conversation-list", "aria-labelledby": "chat-list-title" });
  const status = h("p", { class: "muted", role: "status" });
  clear(
    pane,
    h(
      "div",
      { class: "chat-list-head" },
      h(heading, { id: "chat-list-title" }, t("chat.title")),
      h("button", { type: "button", class: "primary", onclick: openStartDialog }, h("span", { "aria-hidden": "true" }, "+"), t("chat.start.open")),
    ),
    status,
    list,
  );

  function content(view) {
    const title = titleOf(view);
    return [
      avatar(view.peer, title || t(`chat.untitled.${view.kind}`)),
      h(
        "span",
        { class: "chat-item-main" },
        h("span", { class: "chat-item-top" }, titleNode(view, "span", { class: "chat-item-name" }), view.last_message ? shortTime(view.last_message.sent_at) : null),
        h("span", { class: "chat-item-last" }, preview(view)),
      ),
      counts(view),
    ];
  }

  function item(view) {
    const a = h("a", { href: `/messages/${view.id}`, "data-conversation": view.id, "aria-current": view.id === current ? "page" : null }, content(view));
    links.set(view.id, a);
    return h("li", {}, a);
  }

  function redraw(id) {
    const a = links.get(id);
    if (a) clear(a, content(views.get(id)));
  }

  function toTop(id) {
    const a = links.get(id);
    if (a && list.firstElementChild !== a.parentElement) list.prepend(a.parentElement);
  }

  function put(view, { top = false } = {}) {
    const known = views.has(view.id);
    views.set(view.id, view);
    if (known) redraw(view.id);
    else {
      list.querySelector(".empty")?.parentElement?.remove();
      (top ? list.prepend.bind(list) : list.append.bind(list))(item(view));
    }
    if (top) toTop(view.id);
  }

  async function load() {
    status.replaceChildren(spinner());
    try {
      const page = await api.get("/v1/conversations", { limit: 50 });
      if (page.offline) status.textContent = t("shell.offline");
      else status.textContent = "";
      badges.seed(page.items);
      clear(list);
      views.clear();
      links.clear();
      for (const view of page.items) put(view);
      if (!page.items.length) list.append(h("li", {}, empty("chat.list.empty")));
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  // A conversation the list does not hold yet (a first message from someone new, an
  // invitation): its view, asked again for a moment if the read model is not there yet.
  async function fetchNew(id, tries = 6) {
    try {
      const detail = await api.get(`/v1/conversations/${id}`);
      put(detail.conversation, { top: true });
    } catch (error) {
      if (error.status === 404 && tries > 1) {
        await wait(300);
        return fetchNew(id, tries - 1);
      }
    }
  }

  async function onMessage(item) {
    if (!views.has(item.conversation_id)) await fetchNew(item.conversation_id);
    const view = views.get(item.conversation_id);
    if (!view) return;
    const m = item.message;
    if (view.last_message && view.last_message.seq > m.seq) return;
    const sender = m.sender_id === view.peer?.id ? view.peer : view.last_message?.sender_id === m.sender_id ? view.last_message.sender : null;
    view.last_message = { ...m, deleted: false, edited_at: null, sender };
    put(view, { top: true });
  }

  function onChangedMessage(item, change) {
    const view = views.get(item.conversation_id);
    if (view && view.last_message && view.last_message.id === item.message_id) {
      Object.assign(view.last_message, change(item));
      redraw(view.id);
    }
  }

  const off = [
    live.on("message.new", onMessage),
    live.on("message.edited", (item) => onChangedMessage(item, (i) => ({ body: i.body, edited_at: i.edited_at }))),
    live.on("message.deleted", (item) => onChangedMessage(item, () => ({ deleted: true, body: "" }))),
    live.on("conversation.changed", (item) => {
      const view = views.get(item.conversation_id);
      if (view && item.title !== undefined) {
        view.name = item.title;
        redraw(view.id);
      }
    }),
    live.on("conversation.joined", (item) => fetchNew(item.conversation_id)),
    live.on("conversation.left", (item) => {
      const a = links.get(item.conversation_id);
      if (a) a.parentElement.remove();
      views.delete(item.conversation_id);
      links.delete(item.conversation_id);
    }),
    live.on("conversation.muted", (item) => {
      const view = views.get(item.conversation_id);
      if (view) {
        view.muted = item.muted;
        redraw(view.id);
      }
    }),
    live.on("reset", load),
    badges.onChange(() => {
      for (const id of views.keys()) {
        const a = links.get(id);
        const old = a && a.querySelector(".chat-counts");
        if (old) old.replaceWith(counts(views.get(id)));
      }
    }),
  ];
  await load();
  return () => off.forEach((fn) => fn());
}

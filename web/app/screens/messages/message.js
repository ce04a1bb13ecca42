// One message in a conversation: who wrote it (in groups and channels), what it replies to
// (quoted), its text or its tombstone, its attachments, when, whether it was edited, and for
// my own its state (sending…, not sent, sent, read); with its actions (reply, edit, delete)
// and the inline edit form.

import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { problemText } from "../../ui.js";
import { nameOf, shortTime } from "../../elements/listing.js";
import { attachment } from "./common.js";
import { confirmDialog } from "../../elements/dialog.js";

/**
 * ctx: {conversationId, kind, me, manager, people: Map id -> author, find(id) -> message,
 *       status(message) -> catalog key|null, onReply(message), changed(message)}
 * A message here is the API's message view plus `pending` / `failed` for my unsent ones.
 */
export function messageItem(message, ctx) {
  const li = h("li", { class: "message", id: `m-${message.id}`, "data-message": message.id });
  drawMessage(li, message, ctx);
  return li;
}

function senderOf(message, ctx) {
  return message.sender || ctx.people.get(message.sender_id) || null;
}

function quote(message, ctx) {
  if (!message.reply_to) return null;
  const parent = ctx.find(message.reply_to);
  const box = h("a", { class: "quote", href: `#m-${message.reply_to}` });
  if (!parent) {
    box.append(t("chat.message.reply_elsewhere"));
    return box;
  }
  const who = senderOf(parent, ctx);
  box.append(
    h("span", { class: "quote-who" }, who ? userText(nameOf(who)) : t("chat.message.someone")),
    parent.deleted ? h("span", { class: "quote-body muted" }, t("chat.message.deleted")) : userText(parent.body || t("chat.attachment"), "span", { class: "quote-body" }),
  );
  return box;
}

function actions(li, message, ctx) {
  if (message.pending || message.failed || message.deleted) return null;
  const mine = message.sender_id === ctx.me;
  const buttons = [];
  if (ctx.canWrite) buttons.push(h("button", { type: "button", class: "link", onclick: () => ctx.onReply(message) }, t("chat.message.reply")));
  if (mine) buttons.push(h("button", { type: "button", class: "link", onclick: () => editForm(li, message, ctx) }, t("chat.message.edit")));
  if (mine || (ctx.manager && ctx.kind !== "direct")) {
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "link danger-link",
          onclick: async () => {
            if (!(await confirmDialog({ title: t("chat.message.delete_confirm"), confirm: t("chat.message.delete") }))) return;
            try {
              await api.del(`/v1/conversations/${ctx.conversationId}/messages/${message.id}`);
              Object.assign(message, { deleted: true, body: "", media: [], media_ids: [] });
              ctx.changed(message);
            } catch (error) {
              ctx.error(problemText(error));
            }
          },
        },
        t("chat.message.delete"),
      ),
    );
  }
  return buttons.length ? h("div", { class: "message-actions" }, buttons) : null;
}

/** Draw (again) a message's content into its <li> (not while it is being edited: a read
 * receipt or an edit coming in must not throw away what is being typed). */
export function drawMessage(li, message, ctx) {
  if (li.dataset.editing) return;
  const mine = message.sender_id === ctx.me || message.pending || message.failed;
  li.className = `message${mine ? " mine" : ""}${message.deleted ? " deleted" : ""}${message.pending ? " pending" : ""}`;
  const who = senderOf(message, ctx);
  const status = mine ? ctx.status(message) : null;
  clear(
    li,
    !mine && ctx.kind !== "direct" && !message.deleted ? h("p", { class: "message-sender" }, who ? userText(nameOf(who)) : t("chat.message.someone")) : null,
    message.deleted ? null : quote(message, ctx),
    message.deleted ? h("p", { class: "tombstone" }, t("chat.message.deleted")) : message.body ? userText(message.body, "p", { class: "message-body" }) : null,
    !message.deleted && (message.media || []).length ? h("div", { class: "attachments" }, message.media.map(attachment)) : null,
    h(
      "p",
      { class: "meta" },
      message.sent_at ? shortTime(message.sent_at) : null,
      message.edited_at && !message.deleted ? h("span", {}, t("chat.message.edited")) : null,
      status ? h("span", { class: `message-status ${status.replace(/\W/g, "-")}` }, t(status, ctx.statusParams(message))) : null,
    ),
    actions(li, message, ctx),
  );
}

function editForm(li, message, ctx) {
  const id = `edit-${message.id}`;
  const text = h("textarea", { id, rows: 2, required: true, "data-user": "" }, message.body);
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "message-edit stack" },
    h("label", { for: id, class: "visually-hidden" }, t("chat.message.edit_label")),
    text,
    error,
    h(
      "div",
      { class: "row end" },
      h("button", { type: "button", onclick: () => done() }, t("chat.cancel")),
      h("button", { type: "submit", class: "primary" }, t("chat.message.save")),
    ),
  );
  const done = () => {
    delete li.dataset.editing;
    drawMessage(li, message, ctx);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = text.value.trim();
    if (!body || body === message.body) return done();
    try {
      await api.patch(`/v1/conversations/${ctx.conversationId}/messages/${message.id}`, { body });
      Object.assign(message, { body, edited_at: new Date().toISOString() });
      delete li.dataset.editing;
      ctx.changed(message);
      li.querySelector(".message-actions button")?.focus();
    } catch (error2) {
      error.textContent = problemText(error2);
      error.hidden = false;
    }
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Escape") done();
  });
  clear(li, form);
  li.dataset.editing = "1";
  text.focus();
}

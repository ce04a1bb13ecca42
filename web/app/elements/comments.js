// A post's comment thread: oldest first, replies nested under their parent (the API sends
// the thread in order, each comment with its depth), writing a comment or a reply, editing
// and deleting one's own, a like, reporting someone else's. After a write the loaded part of
// the thread is read again (the reader's own writes are in it at once, docs/api.md) and the
// new or changed comment gets the focus.
import * as api from "../api.js";
import { h, clear, sanitisedHtml } from "../dom.js";
import { t } from "../i18n.js";
import { busy, field, problemText, spinner } from "../ui.js";
import { byline, timeOf } from "./post-card.js";
import { confirmDialog } from "./dialog.js";
import { clearProblems, showFormProblem } from "./form-problems.js";
import { reactionBar } from "./reactions.js";
import { openReport } from "./report.js";

/** A form with one text: a comment, a reply, an edit. `onSubmit(text)` may throw ApiError. */
function textForm({ id, labelKey, submitKey, value = "", onSubmit, onCancel }) {
  const text = h("textarea", { rows: 3, value });
  const form = h(
    "form",
    { class: "comment-form stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field(id, labelKey, text),
    h(
      "div",
      { class: "row end" },
      onCancel ? h("button", { type: "button", onclick: onCancel }, t("dialog.cancel")) : null,
      h("button", { type: "submit", class: "primary" }, t(submitKey)),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearProblems(form);
    if (!text.value.trim()) {
      showFormProblem(form, { errors: [{ field: "body", message: t("comments.error.empty") }] }, { body: id });
      text.focus();
      return;
    }
    busy(form, async () => {
      try {
        await onSubmit(text.value);
      } catch (error) {
        showFormProblem(form, error, { body: id });
      }
    });
  });
  return { form, text };
}

/** The thread of `post` with its heading and forms; `section` is what to place. */
export function commentThread(post) {
  const who = api.session();
  const heading = h("h2", { id: "comments-heading" });
  const list = h("ul", { class: "thread" });
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", class: "more-button", hidden: true, onclick: () => load() }, t("comments.more"));
  let count = post.comments || 0;
  let cursor = null;
  let pages = 0;
  let lists = []; // lists[d]: where replies to the latest comment of depth d go

  function setCount(n) {
    count = Math.max(0, n);
    heading.textContent = t("post.comments", { count });
  }

  function place(c) {
    const li = item(c);
    const parent = (c.depth > 0 && lists[c.depth - 1]) || list;
    parent.append(li);
    lists[c.depth] = li.querySelector(":scope > ul.replies");
    lists.length = c.depth + 1;
  }

  async function load() {
    more.hidden = true;
    status.replaceChildren(spinner());
    try {
      const answer = await api.get(`/v1/posts/${post.id}/comments`, { cursor });
      answer.items.forEach(place);
      cursor = answer.next_cursor;
      pages += 1;
      status.textContent = list.children.length ? "" : t("comments.empty");
    } catch (error) {
      status.textContent = problemText(error);
    }
    more.hidden = !cursor;
  }

  /** Read the thread again, at least as far as before and until `focusId` is in it. */
  async function reload(focusId) {
    const want = Math.max(1, pages);
    clear(list);
    lists = [];
    cursor = null;
    pages = 0;
    do await load();
    while (cursor && (pages < want || (focusId && !list.querySelector(`[data-comment-id="${focusId}"]`))));
    const target = focusId && list.querySelector(`[data-comment-id="${focusId}"] > article`);
    if (target) {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  function item(c) {
    const li = h("li", { class: "comment-item", "data-comment-id": c.id });
    const article = h("article", { class: "comment", "aria-labelledby": c.deleted ? null : `comment-${c.id}-author` });
    li.append(article, h("ul", { class: "replies" }));
    if (c.deleted) {
      article.append(h("p", { class: "muted" }, t("comments.deleted")));
      return li;
    }
    const mine = !!who && c.author_id === who.id;
    const slot = h("div", { class: "comment-slot" });
    const body = sanitisedHtml(c.body_html, "div", { class: "body" });

    function reply() {
      const { form, text } = textForm({
        id: `reply-${c.id}`,
        labelKey: "comments.reply_label",
        submitKey: "comments.reply_send",
        onCancel: () => clear(slot),
        onSubmit: async (value) => {
          const created = await api.post(`/v1/posts/${post.id}/comments`, { body: value, reply_to: c.id });
          setCount(count + 1);
          await reload(created.id);
        },
      });
      clear(slot, form);
      text.focus();
    }

    function edit() {
      const { form, text } = textForm({
        id: `edit-${c.id}`,
        labelKey: "comments.edit_label",
        submitKey: "comments.save",
        value: c.body,
        onCancel: () => {
          clear(slot);
          body.hidden = false;
        },
        onSubmit: async (value) => {
          if (value !== c.body) await api.patch(`/v1/comments/${c.id}`, { body: value });
          await reload(c.id);
        },
      });
      body.hidden = true;
      clear(slot, form);
      text.focus();
    }

    async function remove() {
      const sure = await confirmDialog({ title: t("comments.delete_title"), text: t("comments.delete_text"), confirm: t("comments.delete") });
      if (!sure) return;
      try {
        await api.del(`/v1/comments/${c.id}`);
        setCount(count - 1);
        await reload(c.id);
      } catch (error) {
        status.textContent = problemText(error);
      }
    }

    // Element.append would write a null as the text "null": clear() skips it.
    clear(
      article,
      h("header", {}, byline(c.author, c.author_id, timeOf(c.added_at), { id: `comment-${c.id}-author`, edited: !!c.edited_at })),
      c.moderation && c.moderation !== "visible" ? h("p", { class: "chip warn" }, t(`post.moderation.${c.moderation}`)) : null,
      body,
      h(
        "footer",
        { class: "actions" },
        reactionBar(`/v1/comments/${c.id}`, { counts: c.reactions, mine: c.my_reactions }, { kinds: ["like"], label: t("reaction.label_comment") }),
        who ? h("button", { type: "button", class: "link", onclick: reply }, t("comments.reply")) : null,
        mine ? h("button", { type: "button", class: "link", onclick: edit }, t("comments.edit")) : null,
        mine || (who && post.author_id === who.id) ? h("button", { type: "button", class: "link", onclick: remove }, t("comments.delete")) : null,
        who && !mine ? h("button", { type: "button", class: "link", onclick: () => openReport("comment", c.id) }, t("report.action")) : null,
      ),
      slot,
    );
    return li;
  }

  const writer = who
    ? textForm({
        id: "comment-body",
        labelKey: "comments.write_label",
        submitKey: "comments.send",
        onSubmit: async (value) => {
          const created = await api.post(`/v1/posts/${post.id}/comments`, { body: value });
          writer.text.value = "";
          setCount(count + 1);
          await reload(created.id);
        },
      })
    : null;

  setCount(count);
  const section = h(
    "section",
    { class: "comments", id: "comments", "aria-labelledby": "comments-heading" },
    heading,
    writer ? writer.form : h("p", {}, h("a", { href: `/signin?next=${encodeURIComponent(`/posts/${post.id}`)}` }, t("comments.sign_in"))),
    list,
    status,
    more,
  );
  return { section, load };
}

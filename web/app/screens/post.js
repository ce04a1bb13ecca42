// One post (/posts/{post_id}): the post with its attachments at full size, reactions, the
// comment thread; for its author editing (title, body, visibility) and deleting; its edit
// history in a dialog; reporting it.
import * as api from "../api.js";
import { h, clear, sanitisedHtml, userText } from "../dom.js";
import { dateTime, t } from "../i18n.js";
import { go } from "../router.js";
import { busy, field, problemText, toast } from "../ui.js";
import { categoryName, loadCategories } from "../elements/categories.js";
import { commentThread } from "../elements/comments.js";
import { confirmDialog, openDialog } from "../elements/dialog.js";
import { clearProblems, showFormProblem } from "../elements/form-problems.js";
import { attachment, byline, timeOf } from "../elements/post-card.js";
import { reactionBar } from "../elements/reactions.js";
import { openReport } from "../elements/report.js";

const TITLE_MAX = 200;

function heading(post) {
  if (post.title) return userText(post.title, "h1", { class: "post-title", tabindex: "-1" });
  const a = post.author || {};
  return h("h1", { class: "post-title", tabindex: "-1" }, t("post.heading", { name: a.display_name || a.handle || t("post.someone") }));
}

async function showHistory(post) {
  const list = h("ol", { class: "history", reversed: true });
  const { dialog } = openDialog({ title: t("history.title"), body: list, className: "history-dialog" });
  try {
    const answer = await api.get(`/v1/posts/${post.id}/history`);
    for (const v of [...answer.versions].reverse()) {
      list.append(
        h(
          "li",
          { class: "version" },
          h("h3", {}, t("history.version", { count: v.version }), " · ", h("time", { datetime: v.at }, dateTime(v.at))),
          v.title ? userText(v.title, "p", { class: "version-title" }) : null,
          sanitisedHtml(v.body_html, "div", { class: "body" }),
        ),
      );
    }
  } catch (error) {
    list.replaceWith(h("p", { role: "alert" }, problemText(error)));
  }
  dialog.querySelector("button").focus();
}

export default async function postScreen(container, { post_id: postId }) {
  loadCategories().then(() => post && !editing && draw());
  const who = api.session();
  let post = null;
  try {
    post = await api.get(`/v1/posts/${encodeURIComponent(postId)}`);
  } catch (error) {
    const gone = error.status === 404 || error.status === 410;
    clear(container, h("h1", {}, t(gone ? "post.gone" : "error.generic.title")), h("p", {}, gone ? t(`post.gone_${error.status}`) : problemText(error)));
    return undefined;
  }
  const thread = commentThread(post);
  const main = h("article", { class: "post post-page", "aria-labelledby": "post-heading" });
  clear(container, main, thread.section);
  let editing = false;

  function draw() {
    const mine = !!who && post.author_id === who.id;
    const title = heading(post);
    title.id = "post-heading";
    const focused = document.activeElement && main.contains(document.activeElement);
    clear(
      main,
      h("header", {}, byline(post.author, post.author_id, timeOf(post.published_at), { edited: !!post.edited_at })),
      title,
      h(
        "p",
        { class: "row chips" },
        post.category ? h("a", { class: "chip", href: `/categories/${encodeURIComponent(post.category)}` }, userText(categoryName(post.category))) : null,
        post.visibility === "followers" ? h("span", { class: "chip" }, t("post.visibility.followers")) : null,
        post.moderation && post.moderation !== "visible" ? h("span", { class: "chip warn" }, t(`post.moderation.${post.moderation}`)) : null,
      ),
      editing ? editor() : sanitisedHtml(post.body_html, "div", { class: "body" }),
      (post.media || []).length ? h("div", { class: "attachments large" }, post.media.map((m) => attachment(m, "1080", { link: true }))) : null,
      reactionBar(`/v1/posts/${post.id}`, { counts: post.reactions, mine: post.my_reactions }),
      h(
        "div",
        { class: "row actions" },
        post.edited_at ? h("button", { type: "button", onclick: () => showHistory(post) }, t("history.open")) : null,
        mine && !editing ? h("button", { type: "button", onclick: startEdit }, t("post.edit")) : null,
        mine ? h("button", { type: "button", class: "danger", onclick: remove }, t("post.delete")) : null,
        who && !mine ? h("button", { type: "button", onclick: () => openReport("post", post.id) }, t("report.action")) : null,
      ),
    );
    if (focused && !editing) title.focus();
  }

  function startEdit() {
    editing = true;
    draw();
    main.querySelector("#edit-body").focus();
  }

  function editor() {
    const title = h("input", { type: "text", maxlength: TITLE_MAX, value: post.title || "" });
    const body = h("textarea", { rows: 8, value: post.body });
    const visibility = h("select", {}, h("option", { value: "public" }, t("post.visibility.public")), h("option", { value: "followers" }, t("post.visibility.followers")));
    visibility.value = post.visibility;
    const form = h(
      "form",
      { class: "card stack post-editor", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field("edit-title", "composer.title", title),
      field("edit-body", "composer.body", body, "composer.markdown_hint"),
      field("edit-visibility", "composer.visibility", visibility),
      h(
        "div",
        { class: "row end" },
        h("button", { type: "button", onclick: () => { editing = false; draw(); } }, t("dialog.cancel")),
        h("button", { type: "submit", class: "primary" }, t("post.save")),
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearProblems(form);
      // Only what changed is sent: an edit of nothing is refused, and each field edited
      // is a version of its own in the history.
      const change = {};
      const newTitle = title.value.trim();
      if (newTitle !== (post.title || "")) change.title = newTitle || null;
      if (body.value !== post.body) change.body = body.value;
      if (visibility.value !== post.visibility) change.visibility = visibility.value;
      const ids = { title: "edit-title", body: "edit-body", visibility: "edit-visibility" };
      if (!body.value.trim()) {
        showFormProblem(form, { errors: [{ field: "body", message: t("composer.error.empty") }] }, ids);
        return;
      }
      busy(form, async () => {
        try {
          if (Object.keys(change).length) await api.patch(`/v1/posts/${post.id}`, change);
          post = await api.get(`/v1/posts/${post.id}`);
          editing = false;
          draw();
          main.querySelector("#post-heading").focus();
          toast(t("post.saved"));
        } catch (error) {
          showFormProblem(form, error, ids);
        }
      });
    });
    return form;
  }

  async function remove() {
    const sure = await confirmDialog({ title: t("post.delete_title"), text: t("post.delete_text"), confirm: t("post.delete") });
    if (!sure) return;
    try {
      await api.del(`/v1/posts/${post.id}`);
      toast(t("post.deleted"));
      await go("/home");
    } catch (error) {
      toast(problemText(error), { error: true });
    }
  }

  draw();
  await thread.load();
}

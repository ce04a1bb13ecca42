// One post in a list: author, time, title, the sanitised body, attachments, and a footer
// with its category, reactions and comments. Also the pieces the post page shares with it:
// an author's avatar and an attachment's picture.
import { h, sanitisedHtml, userText } from "../dom.js";
import { ago, dateTime, number, t } from "../i18n.js";
import { categoryName } from "./categories.js";
import { EMOJI, KINDS } from "./reactions.js";

/** Where a person's profile is: by handle, else by id (someone who never chose one). */
export function personHref(author, fallbackId) {
  const handle = (author && author.handle) || (author && author.id) || fallbackId;
  return `/people/${encodeURIComponent(handle)}`;
}

export function avatar(author, size = "") {
  const a = author || {};
  const picture = a.avatar && a.avatar.variants && (a.avatar.variants["64"] || a.avatar.variants.original);
  return h(
    "span",
    { class: `avatar ${size}`.trim(), "aria-hidden": "true" },
    picture ? h("img", { src: picture.url, alt: "" }) : userText((a.display_name || "?").slice(0, 1).toUpperCase()),
  );
}

/** One attachment shown at `size` ("320" in lists, "1080" on the post page). */
export function attachment(media, size = "320", { link = false } = {}) {
  const variants = media.variants || {};
  const shown = variants[size] || variants["1080"] || variants["320"] || variants.original;
  const original = variants.original || shown;
  if (!shown) return null;
  const type = media.type || "";
  if (type.startsWith("image/")) {
    const img = h("img", { src: shown.url, alt: media.description || "", loading: "lazy", width: shown.width, height: shown.height, "data-user": "" });
    return link ? h("a", { href: original.url, target: "_blank", rel: "noopener", class: "attachment" }, img) : h("span", { class: "attachment" }, img);
  }
  if (type.startsWith("video/")) {
    return h("video", { class: "attachment", src: original.url, controls: true, preload: "metadata", "aria-label": media.description || t("post.video"), "data-user": media.description ? "" : null });
  }
  return h("a", { class: "attachment file", href: original.url, target: "_blank", rel: "noopener" }, t("post.attachment_file"));
}

/** Who wrote it and when: the header of a post or a comment. */
export function byline(author, authorId, time, { id, edited } = {}) {
  const a = author || {};
  return h(
    "div",
    { class: "byline" },
    avatar(a),
    h(
      "div",
      { class: "who" },
      h("a", { class: "author", href: personHref(a, authorId), id }, userText(a.display_name || a.handle || t("post.someone"))),
      a.vip ? h("span", { class: "chip vip" }, t("profile.vip")) : null,
      a.handle ? h("span", { class: "meta handle" }, "@", userText(a.handle)) : null,
    ),
    h(
      "span",
      { class: "meta when" },
      time,
      edited ? h("span", { class: "edited" }, t("post.edited")) : null,
    ),
  );
}

export function timeOf(value) {
  return h("time", { datetime: value, title: dateTime(value) }, ago(value));
}

/** "👍 3 ❤ 1": what people reacted with, the total said in words. */
export function reactionSummary(counts) {
  const total = KINDS.reduce((n, k) => n + (counts[k] || 0), 0);
  if (!total) return null;
  return h(
    "span",
    { class: "reaction-summary" },
    h("span", { class: "visually-hidden" }, t("reaction.total", { count: total })),
    h("span", { "aria-hidden": "true" }, KINDS.filter((k) => counts[k]).map((k) => h("span", { class: "reaction-count" }, EMOJI[k], " ", number(counts[k])))),
  );
}

export function postCard(post) {
  const titleId = `post-${post.id}-title`;
  const authorId = `post-${post.id}-author`;
  return h(
    "article",
    { class: "post", "data-post-id": post.id, "aria-labelledby": post.title ? `${titleId} ${authorId}` : authorId },
    h("header", {}, byline(post.author, post.author_id, h("a", { href: `/posts/${post.id}`, class: "meta" }, timeOf(post.published_at)), { id: authorId, edited: !!post.edited_at })),
    post.moderation && post.moderation !== "visible" ? h("p", { class: "chip warn" }, t(`post.moderation.${post.moderation}`)) : null,
    post.title ? h("h2", { class: "post-title", id: titleId }, h("a", { href: `/posts/${post.id}` }, userText(post.title))) : null,
    sanitisedHtml(post.body_html, "div", { class: "body" }),
    (post.media || []).length ? h("div", { class: "attachments" }, post.media.map((m) => attachment(m, "320"))) : null,
    h(
      "footer",
      { class: "meta" },
      post.category ? h("a", { class: "chip", href: `/categories/${encodeURIComponent(post.category)}` }, userText(categoryName(post.category))) : null,
      post.visibility === "followers" ? h("span", { class: "chip" }, t("post.visibility.followers")) : null,
      reactionSummary(post.reactions || {}),
      h("a", { href: `/posts/${post.id}` }, t("post.comments", { count: post.comments || 0 })),
    ),
  );
}

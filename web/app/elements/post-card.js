// One post in a list: author, time, the sanitised body, attachments, counts.
import { h, sanitisedHtml, userText } from "../dom.js";
import { ago, dateTime, t } from "../i18n.js";

export function postCard(post) {
  const author = post.author || {};
  const handle = author.handle || post.author_handle || post.author_id;
  const name = author.display_name || post.author_name || handle;
  const published = post.published_at || post.created_at; // the post view names it published_at
  return h(
    "article",
    { class: "post", "data-post-id": post.id, "aria-labelledby": `post-${post.id}-author` },
    h(
      "header",
      {},
      h("a", { class: "author", id: `post-${post.id}-author`, href: `/people/${encodeURIComponent(handle)}` }, userText(name)),
      author.vip ? h("span", { class: "chip vip" }, t("profile.vip")) : null,
      h("span", { class: "meta" }, "@", userText(handle)),
      h("a", { class: "meta", href: `/posts/${post.id}` }, h("time", { datetime: published, title: dateTime(published) }, ago(published))),
    ),
    post.body_html ? sanitisedHtml(post.body_html, "div", { class: "body" }) : userText(post.body || "", "div", { class: "body" }),
    (post.media || []).length
      ? h("div", { class: "attachments" }, post.media.map((m) => h("img", { src: m.url || (m.variants && m.variants[0] && m.variants[0].url) || "", alt: m.description || m.alt || "", loading: "lazy", "data-user": "" })))
      : null,
    h(
      "footer",
      { class: "meta" },
      h("a", { href: `/posts/${post.id}` }, t("post.comments", { count: post.comment_count || 0 })),
    ),
  );
}

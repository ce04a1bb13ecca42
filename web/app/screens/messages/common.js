// What the messenger's parts share: how a conversation is named and its attachments
// (people, avatars and times: elements/listing.js).

import { h, userText } from "../../dom.js";
import { nameOf } from "../../elements/listing.js";
import { t } from "../../i18n.js";

/** A conversation's title: its name, or a direct one's other person. */
export function titleOf(view) {
  if (view.name) return view.name;
  if (view.kind === "direct" && view.peer) return nameOf(view.peer);
  return "";
}

/** The title as a node: what people wrote, else the catalog's word for an unnamed one. */
export function titleNode(view, tag = "span", attrs = {}) {
  const title = titleOf(view);
  return title ? userText(title, tag, attrs) : h(tag, attrs, t(`chat.untitled.${view.kind}`));
}

/** The picture of an attachment that is ready (the 320 px one when there is one). */
export function attachment(media) {
  const variants = media.variants || {};
  const image = variants["320"] || variants.original;
  if (!image) return null;
  if ((image.type || "").startsWith("image/")) {
    const full = (variants["1080"] || variants.original || image).url;
    return h("a", { href: full, target: "_blank", rel: "noopener" }, h("img", { src: image.url, alt: media.description || "", loading: "lazy", "data-user": "" }));
  }
  return h("a", { href: image.url, target: "_blank", rel: "noopener" }, t("chat.attachment"));
}

export const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

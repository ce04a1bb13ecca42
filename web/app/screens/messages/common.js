// What the messenger's parts share: how a person and a conversation are named, times of
// day, avatars, and a confirmation asked in a <dialog>.

import { h, userText } from "../../dom.js";
import * as i18n from "../../i18n.js";
import { t } from "../../i18n.js";

/** A person as the API gives them (an author), or null: their name, else their handle. */
export function nameOf(person) {
  if (!person) return "";
  return person.display_name || (person.handle ? `@${person.handle}` : "");
}

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

/** An initial in a circle (decoration: the name is always written next to it). */
export function avatar(person, title) {
  const media = person && person.avatar;
  const variants = (media && media.variants) || {};
  const image = variants["64"] || variants["320"] || variants.original;
  if (image) return h("span", { class: "avatar", "aria-hidden": "true" }, h("img", { src: image.url, alt: "" }));
  const initial = (title || "?").replace(/^@/, "").trim().charAt(0).toUpperCase() || "?";
  return h("span", { class: "avatar", "aria-hidden": "true" }, initial);
}

/** A moment as the list and the bubbles show it: the time today, else the date. */
export function shortTime(value) {
  const when = new Date(value);
  const today = new Date().toDateString() === when.toDateString();
  const format = today ? { timeStyle: "short" } : { dateStyle: "short" };
  return h(
    "time",
    { datetime: when.toISOString(), title: i18n.dateTime(value) },
    new Intl.DateTimeFormat(i18n.current(), format).format(when),
  );
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

/** Ask before something that cannot be undone: resolves true when confirmed. */
export function confirmDialog(textKey, confirmKey, params = {}) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "chat-confirm", "aria-labelledby": "chat-confirm-text" },
      h("p", { id: "chat-confirm-text" }, t(textKey, params)),
      h(
        "form",
        { method: "dialog", class: "row end" },
        h("button", { type: "submit", value: "no" }, t("chat.cancel")),
        h("button", { type: "submit", value: "yes", class: "danger" }, t(confirmKey)),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

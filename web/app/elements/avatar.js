// A person's picture: their initial at once (nothing to wait for), replaced by the image when
// the avatar's media view arrives. The profile names only `avatar_media_id`; post views carry
// the whole media view.
import * as api from "../api.js";
import { h } from "../dom.js";

const views = new Map(); // media id -> Promise of its view: a page shows one face many times

function mediaView(id) {
  if (!views.has(id)) views.set(id, api.get(`/v1/media/${encodeURIComponent(id)}`).catch(() => null));
  return views.get(id);
}

/** The URL of the smallest variant at least `side` px wide (else the largest there is). */
export function variantUrl(view, side) {
  const variants = Object.entries((view && view.variants) || {})
    .filter(([name]) => name !== "original")
    .sort((a, b) => Number(a[0]) - Number(b[0]));
  const fit = variants.find(([name]) => Number(name) >= side) || variants[variants.length - 1];
  if (fit) return fit[1].url;
  return view && view.variants && view.variants.original ? view.variants.original.url : null;
}

/** Forget a media view (an avatar just replaced). */
export function forget(id) {
  views.delete(id);
}

/**
 * avatar({display_name, avatar_media_id | avatar}, {large}) -> a span with the initial,
 * then the picture. Decorative (alt ""): the name is always written next to it.
 */
export function avatar(person, { large = false } = {}) {
  const name = (person && (person.display_name || person.handle)) || "";
  const box = h("span", { class: large ? "avatar large" : "avatar", "aria-hidden": "true" }, h("span", { "data-user": "" }, [...name][0] || "?"));
  const show = (view) => {
    const url = variantUrl(view, large ? 320 : 64);
    if (url) box.replaceChildren(h("img", { src: url, alt: "", loading: "lazy" }));
  };
  if (person && person.avatar) show(person.avatar);
  else if (person && person.avatar_media_id) mediaView(person.avatar_media_id).then(show);
  return box;
}

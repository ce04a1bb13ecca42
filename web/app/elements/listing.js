// Pieces of the app's list rows (conversations, notifications, people): how a person is
// named, their avatar, and a moment shown short.

import { h } from "../dom.js";
import * as i18n from "../i18n.js";

/** A person as the API gives them (an author), or null: their name, else their handle. */
export function nameOf(person) {
  if (!person) return "";
  return person.display_name || (person.handle ? `@${person.handle}` : "");
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

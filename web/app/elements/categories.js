// The list of post categories (GET /v1/categories), read once per page load: the composer's
// choice, a post's category chip and a category timeline's title all name a category by
// its slug and show its name in the reader's language.
import * as api from "../api.js";
import { current } from "../i18n.js";

let loading = null;
const bySlug = new Map();

/** Every category, by position; [] when the list cannot be read (offline). */
export function loadCategories() {
  if (!loading) {
    loading = api
      .get("/v1/categories")
      .then((answer) => {
        for (const c of answer.items) bySlug.set(c.slug, c);
        return answer.items;
      })
      .catch(() => {
        loading = null; // try again next time
        return [];
      });
  }
  return loading;
}

/** The category of a slug once loaded, or null. */
export function category(slug) {
  return bySlug.get(slug) || null;
}

/** A category's name (or description) in the current language; the slug when unknown. */
export function categoryName(slug) {
  const c = bySlug.get(slug);
  if (!c) return slug;
  return (current() === "ru" ? c.name_ru : c.name_en) || c.name_en || slug;
}

export function categoryDescription(slug) {
  const c = bySlug.get(slug);
  if (!c) return null;
  return current() === "ru" ? c.description_ru : c.description_en;
}

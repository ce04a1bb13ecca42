// A list read page by page with a "Show more" button (cursor-paged API lists), with a status
// line that says "loading", "nothing here", how many are shown, or what went wrong.
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { empty, problemText, spinner } from "../ui.js";

/**
 * pagedList({list, fetch, render, emptyKey, shown?, failed?, describe?}) -> {status, more, load}.
 * `fetch(cursor)` answers `{items, next}` (`next`: the next page's cursor, or null);
 * `render(item)` a node (or a promise of one). `shown(n)` is the status once something is
 * listed; `failed(error)` handles a problem (by default the status says it, in the words
 * of `describe(error)`). `load(true)`
 * starts again from the first page, `load(false)` adds the next.
 */
export function pagedList({ list, fetch, render, emptyKey, shown = () => "", failed = null, describe = problemText, moreKey = "staff.more" }) {
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", hidden: true }, t(moreKey));
  let cursor = null;

  async function load(reset = true) {
    if (reset) {
      cursor = null;
      list.replaceChildren();
    }
    status.replaceChildren(spinner());
    more.hidden = true;
    try {
      const page = await fetch(cursor);
      for (const item of page.items) list.append(await render(item));
      cursor = page.next;
      more.hidden = !cursor;
      status.replaceChildren(list.children.length ? shown(list.children.length) : empty(emptyKey));
      return page;
    } catch (error) {
      status.replaceChildren();
      if (failed) failed(error);
      else status.textContent = describe(error);
      return null;
    }
  }

  more.addEventListener("click", () => load(false));
  return { status, more, load };
}

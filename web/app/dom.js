// Building the page. Every string given to h() becomes a text node: user content is never
// parsed as HTML. The one exception is `sanitisedHtml`, for the API's `body_html` (made by
// markdown-it and cleaned by nh3 on the server); tests/unit/edge/test_web.py checks that no
// other module of the app touches innerHTML, outerHTML, insertAdjacentHTML or document.write.

/**
 * h("a", {href: "/x", class: "y", onclick: fn}, "text", child, [more, children])
 * Attributes: `class`, `for` and `data-*`/`aria-*` as named; `on<event>` adds a listener;
 * true sets a boolean attribute, false/null/undefined leaves it out.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value" && "value" in el) {
      el.value = value;
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** Text someone wrote (names, bodies, handles): marked so the catalog check skips it. */
export function userText(text, tag = "span", attrs = {}) {
  return h(tag, { ...attrs, "data-user": "" }, text ?? "");
}

/** The API's sanitised `body_html`, the only HTML the app inserts. */
export function sanitisedHtml(html, tag = "div", attrs = {}) {
  const el = h(tag, { ...attrs, "data-user": "" });
  el.innerHTML = html;
  for (const a of el.querySelectorAll("a[href]")) {
    if (!a.getAttribute("href").startsWith("/")) {
      a.setAttribute("rel", "noopener noreferrer nofollow ugc");
      a.setAttribute("target", "_blank");
    }
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** A random UUID (client-chosen ids: idempotency keys, message ids sent offline). */
export function uuid() {
  return crypto.randomUUID();
}

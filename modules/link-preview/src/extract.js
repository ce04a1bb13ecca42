// What a page says about itself: Open Graph (`og:*`) and Twitter card meta tags first, the
// plain `<meta name="description">` and `<title>` as fallbacks. htmlparser2 reads the markup
// as browsers roughly do (unclosed tags, comments, scripts containing "<meta", entities);
// a regular expression would not.

import { Parser } from "htmlparser2";

//: Lengths kept of each field (in characters): enough for any card, bounded for the log.
export const LIMITS = { title: 300, description: 1000, site_name: 200 };
export const MAX_IMAGE_URL = 2048;

const CHARSET_META = /<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)/i;

/** The page's text: the charset its headers name, else the one its first bytes declare,
 * else UTF-8 (what HTML5 assumes when nothing says otherwise). */
export function decodeHtml(body, charset) {
  const sniffed = CHARSET_META.exec(body.subarray(0, 2048).toString("latin1"))?.[1];
  for (const label of [charset, sniffed, "utf-8"]) {
    if (!label) continue;
    try {
      return new TextDecoder(label.toLowerCase()).decode(body);
    } catch {
      // An unknown label: try the next source.
    }
  }
  return body.toString("utf8");
}

/** Whitespace collapsed, control characters dropped, cut to `limit` characters; null when
 * nothing is left. */
export function clean(text, limit) {
  if (typeof text !== "string") return null;
  const value = text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "")
    .replace(/\s+/g, " ")
    .trim();
  if (!value) return null;
  const chars = Array.from(value);
  return chars.length > limit ? chars.slice(0, limit).join("").trimEnd() : value;
}

/** An absolute http(s) URL for the image, resolved against the page; null otherwise. */
export function imageUrl(value, base) {
  if (typeof value !== "string" || !value.trim()) return null;
  try {
    const url = new URL(value.trim(), base);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (url.username || url.password) return null;
    return url.href.length <= MAX_IMAGE_URL ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * The preview of an HTML page.
 * @param {string} html the page's text
 * @param {string} pageUrl where it was found (relative image URLs resolve against it)
 * @returns {{title: string|null, description: string|null, site_name: string|null, image: string|null}}
 */
export function extractPreview(html, pageUrl) {
  const meta = new Map();
  let title = null;
  let inTitle = false;
  let inSvg = 0;
  let titleText = "";
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        if (name === "svg") inSvg += 1;
        if (name === "title" && title === null && inSvg === 0) {
          inTitle = true;
          titleText = "";
        }
        if (name === "meta") {
          const key = (attribs.property || attribs.name || "").trim().toLowerCase();
          if (key && typeof attribs.content === "string" && !meta.has(key)) {
            meta.set(key, attribs.content);
          }
        }
      },
      ontext(text) {
        if (inTitle) titleText += text;
      },
      onclosetag(name) {
        if (name === "svg" && inSvg > 0) inSvg -= 1;
        if (name === "title" && inTitle) {
          inTitle = false;
          title = titleText;
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  if (inTitle) title = titleText;
  const first = (...keys) => keys.map((k) => meta.get(k)).find((v) => clean(v, 1) !== null);
  return {
    title: clean(first("og:title", "twitter:title") ?? title, LIMITS.title),
    description: clean(
      first("og:description", "twitter:description", "description"),
      LIMITS.description,
    ),
    site_name: clean(first("og:site_name", "application-name"), LIMITS.site_name),
    image: imageUrl(
      first("og:image:secure_url", "og:image:url", "og:image", "twitter:image", "twitter:image:src"),
      pageUrl,
    ),
  };
}

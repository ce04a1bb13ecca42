// Every visible string comes from the catalog of the current language (i18n/<lang>.json),
// by a key that names its meaning. Plurals use Intl.PluralRules (Russian has one, few, many
// and other forms), dates and numbers Intl's formatters. The locale comes from the person's
// profile, else from what they chose on this browser, else from the browser's languages.

export const LANGUAGES = ["en", "ru"];
const STORED = "quark.locale";

let lang = "en";
let catalog = {};
let plural = new Intl.PluralRules("en");
const listeners = new Set();

export function current() {
  return lang;
}

function pick(preferred) {
  for (const tag of preferred) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export async function load(next) {
  const chosen = pick([next]);
  const response = await fetch(`/i18n/${chosen}.json`);
  catalog = await response.json();
  lang = chosen;
  plural = new Intl.PluralRules(lang);
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const fn of listeners) fn(lang);
}

/** The locale to start with: what was chosen here, else the browser's. */
export function initial() {
  return pick([localStorage.getItem(STORED), ...(navigator.languages || []), navigator.language]);
}

/** Switch language (remembered on this browser; the caller saves it on the profile). */
export async function choose(next) {
  localStorage.setItem(STORED, next);
  if (next !== lang) await load(next);
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * t("composer.publish"), t("messages.count", {count: 5}) -> "5 сообщений".
 * An entry is a string or, for a count, an object of plural forms. Missing keys show the
 * key itself, which the screens' catalog test catches.
 */
export function t(key, params = {}) {
  let entry = catalog[key];
  if (entry === undefined) return key;
  if (typeof entry === "object") {
    const form = plural.select(Number(params.count ?? 0));
    entry = entry[form] ?? entry.other;
  }
  return entry.replace(/\{(\w+)\}/g, (_, name) => {
    const value = params[name];
    if (value === undefined) return `{${name}}`;
    return typeof value === "number" ? number(value) : String(value);
  });
}

export function number(value) {
  return new Intl.NumberFormat(lang).format(value);
}

export function dateTime(value) {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(value));
}

export function date(value) {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium" }).format(new Date(value));
}

/** "5 minutes ago", "вчера": relative for the last week, a date before. */
export function ago(value) {
  const seconds = (new Date(value).getTime() - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  if (abs < 60) return rtf.format(Math.round(seconds), "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return rtf.format(Math.round(seconds / 86400), "day");
  return date(value);
}

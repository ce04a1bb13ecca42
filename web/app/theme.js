// Light, dark or the system's, remembered on this browser. Only the `data-theme` attribute
// changes: tokens.css switches the colours.

const STORED = "quark.theme";
export const THEMES = ["system", "light", "dark"];

export function current() {
  const chosen = localStorage.getItem(STORED);
  return THEMES.includes(chosen) ? chosen : "system";
}

export function apply(theme = current()) {
  const root = document.documentElement;
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
}

export function choose(theme) {
  localStorage.setItem(STORED, theme);
  apply(theme);
}

/** The theme shown now (the system's resolved). */
export function shown() {
  const theme = current();
  if (theme !== "system") return theme;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

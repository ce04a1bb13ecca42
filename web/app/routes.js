// The app's screens: URL pattern -> the module that draws it (loaded when first needed) and
// who may see it. edge/web.py CLIENT_ROUTES lists the same patterns (a unit test compares).

export const ROUTES = [
  { path: "/", screen: "home", auth: "any" },
  { path: "/signin", screen: "signin", auth: "guest" },
  { path: "/signup", screen: "signup", auth: "guest" },
  { path: "/reset", screen: "reset", auth: "guest" },
  { path: "/home", screen: "timeline", auth: "user", params: { kind: "home" } },
  { path: "/public", screen: "timeline", auth: "any", params: { kind: "public" } },
  { path: "/tags/{tag}", screen: "timeline", auth: "any", params: { kind: "tag" } },
  { path: "/categories/{slug}", screen: "timeline", auth: "any", params: { kind: "category" } },
  { path: "/posts/{post_id}", screen: "post", auth: "any" },
  { path: "/search", screen: "search", auth: "any" },
  { path: "/people/{handle}", screen: "profile", auth: "any" },
  // The address a mention in a post links to (the API renders `@handle` as /@handle).
  { path: "/@{handle}", screen: "profile", auth: "any" },
  { path: "/people/{handle}/{list}", screen: "people-list", auth: "any" },
  { path: "/profile/edit", screen: "profile-edit", auth: "user" },
  { path: "/messages", screen: "messages", auth: "user" },
  { path: "/messages/{conversation_id}", screen: "messages", auth: "user" },
  { path: "/notifications", screen: "notifications", auth: "user" },
  { path: "/settings", screen: "settings", auth: "user" },
  { path: "/settings/{section}", screen: "settings", auth: "user" },
  { path: "/standing", screen: "standing", auth: "user" },
  { path: "/admin", screen: "admin", auth: "admin" },
  { path: "/admin/{section}", screen: "admin", auth: "admin" },
  { path: "/moderation", screen: "moderation", auth: "moderator" },
  { path: "/moderation/{section}", screen: "moderation", auth: "moderator" },
  { path: "/moderation/cases/{case_id}", screen: "moderation", auth: "moderator" },
];

function compile(pattern) {
  const names = [];
  const source = pattern.replace(/\{(\w+)\}/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  });
  return { re: new RegExp(`^${source}/?$`), names };
}

const COMPILED = ROUTES.map((route) => ({ ...route, ...compile(route.path) }));

/** The route of a path and its parameters, or null. */
export function match(pathname) {
  for (const route of COMPILED) {
    const hit = route.re.exec(pathname);
    if (hit) {
      const params = { ...(route.params || {}) };
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(hit[i + 1]);
      });
      return { route, params };
    }
  }
  return null;
}

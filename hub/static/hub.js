// The hub's dashboard: signs in through the hub (which keeps the token in an HttpOnly
// cookie), then draws the live feed (server-sent events, one frame a second). Every value
// from the server is inserted as text, never as HTML.

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let source = null;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    tr.append(...cells);
    return tr;
  }));
}

function sparkline(values) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 28");
  svg.setAttribute("role", "img");
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? 120 / (values.length - 1) : 0;
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${(27 - (v / max) * 26).toFixed(1)}`).join(" "));
  svg.setAttribute("aria-label", `last ${values.length} s, at most ${max.toFixed(1)} a second`);
  svg.append(line);
  const td = document.createElement("td");
  td.append(svg);
  return td;
}

const number = new Intl.NumberFormat();

function draw(frame) {
  if (frame.error) {
    $("station-state").textContent = `sampling failed: ${frame.error}`;
    $("station-state").className = "state down";
    return;
  }
  $("commands-total").textContent = number.format(frame.commands_total);
  $("events-total").textContent = number.format(frame.events_total);
  const history = frame.history || [];
  const rows = [];
  for (const [kind, key] of [["stream", "events_per_s"], ["context", "commands_per_s"]]) {
    for (const name of Object.keys(frame[key] || {}).sort()) {
      const series = history.map((h) => (h[key] || {})[name] || 0);
      rows.push([cell(`${kind} ${name}`), cell(frame[key][name]), sparkline(series)]);
    }
  }
  fill("rates", rows);
  const health = frame.health;
  const states = new Map((health ? health.modules : []).map((m) => [m.name, m]));
  fill("modules", frame.modules.map((m) => {
    const h = states.get(m.name);
    const state = h ? h.state : (m.instances.length ? "up" : "down");
    const where = m.instances.map((i) => `${i.host}:${i.pid ?? "-"} v${i.version}`).join(", ");
    return [cell(m.name), cell(m.kind), cell(h && h.reason ? `${state}: ${h.reason}` : state, state),
      cell(m.instances.length), cell(where, "muted")];
  }));
  if (!health) return;
  $("station-state").textContent = `station ${health.state} · checked ${new Date(health.checked_at).toLocaleTimeString()}`;
  $("station-state").className = `state ${health.state}`;
  fill("deps", Object.entries(health.dependencies).map(([name, d]) => [
    cell(name), cell(d.reason ? `${d.state}: ${d.reason}` : d.state, d.state),
    cell(Object.entries(d.details || {}).map(([k, v]) => `${k} ${v}`).join(" · "), "muted"),
  ]));
  fill("lag", health.projections.map((p) => [
    cell(p.name), cell(p.reason ? `${p.state}: ${p.reason}` : p.state, p.state), cell(p.events), cell(p.seconds),
  ]));
  const dead = Object.values(health.dead_letters).reduce((a, b) => a + b, 0);
  if (dead !== lastDead) { lastDead = dead; loadDeadLetters(); }
}

let lastDead = -1;

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onClick);
  const td = document.createElement("td");
  td.append(b);
  return td;
}

async function loadDeadLetters() {
  const r = await fetch("/v1/hub/dead-letters");
  if (r.status !== 200) return;
  const { items } = await r.json();
  fill("dlq", items.map((d) => [
    cell(d.projection), cell(`${d.events.join(", ")} (${d.stream}:${d.event_seq})`), cell(d.error),
    cell(d.at ? new Date(d.at).toLocaleString() : ""),
    button(`Retry ${d.seq}`, async () => {
      const answer = await fetch(`/v1/hub/dead-letters/${d.seq}/retry`, { method: "POST" });
      const body = await answer.json().catch(() => ({}));
      $("dlq-note").textContent = answer.status === 200
        ? `Dead letter ${d.seq} applied again.` : `Retry failed: ${body.detail || answer.status}`;
      loadDeadLetters();
    }),
  ]));
  if (!items.length) $("dlq-note").textContent = "No dead letters.";
}

async function loadLogs() {
  if ($("panels").hidden) return;
  const form = new FormData($("log-filter"));
  const query = new URLSearchParams({ limit: "100" });
  for (const key of ["module", "level", "correlation_id"]) {
    const value = (form.get(key) || "").trim();
    if (value) query.set(key, value);
  }
  const r = await fetch(`/v1/hub/logs?${query}`);
  if (r.status !== 200) return;
  const { items } = await r.json();
  const known = new Set(["timestamp", "module", "level", "event", "correlation_id", "logger_name", "pid"]);
  fill("logs", items.slice().reverse().map((line) => {
    const id = line.correlation_id;
    const follow = document.createElement("td");
    if (id) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "link"; b.textContent = id.slice(0, 8);
      b.title = `follow ${id}`;
      b.addEventListener("click", () => { $("log-filter").elements.correlation_id.value = id; loadLogs(); });
      follow.append(b);
    }
    const details = Object.entries(line).filter(([k]) => !known.has(k)).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
    return [cell(line.timestamp ? new Date(line.timestamp).toLocaleTimeString() : ""), cell(line.module),
      cell(line.level, line.level === "error" ? "down" : line.level === "warning" ? "degraded" : ""),
      cell(line.event), follow, cell(details, "muted")];
  }));
}

const FIGURES = { sign_ups: "Sign-ups", posts: "Posts", messages: "Messages" };

function bars(values) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${values.length * 3} 28`);
  const max = Math.max(1, ...values);
  values.forEach((v, i) => {
    const r = document.createElementNS(SVG, "rect");
    const h = (v / max) * 26;
    r.setAttribute("x", String(i * 3)); r.setAttribute("width", "2");
    r.setAttribute("y", String(27 - h)); r.setAttribute("height", String(Math.max(h, 0.5)));
    r.setAttribute("class", "bar");
    svg.append(r);
  });
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `per hour, at most ${max}`);
  const td = document.createElement("td");
  td.append(svg);
  return td;
}

async function loadAnalytics() {
  if ($("panels").hidden) return;
  const r = await fetch("/v1/hub/analytics?hours=48");
  if (r.status !== 200) return;
  const { hours } = await r.json();
  fill("analytics", Object.entries(FIGURES).map(([key, label]) => {
    const series = hours.map((h) => h[key]);
    return [cell(label), cell(series[series.length - 1]), cell(series.reduce((a, b) => a + b, 0)), bars(series)];
  }));
}

setInterval(loadAnalytics, 10000);

$("log-filter").addEventListener("submit", (e) => { e.preventDefault(); loadLogs(); });
setInterval(loadLogs, 2000);

function showSignIn(message) {
  if (source) source.close();
  source = null;
  $("panels").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("station-state").textContent = "signed out";
  $("station-state").className = "state";
  $("sign-in-error").textContent = message || "";
}

async function start() {
  const me = await fetch("/v1/hub/me", { credentials: "same-origin" });
  const who = await me.json().catch(() => ({}));
  if (me.status !== 200 || !who.signed_in) {
    showSignIn(me.status === 403 ? "This account is not an admin." : "");
    return;
  }
  $("sign-in").hidden = true;
  $("panels").hidden = false;
  $("sign-out").hidden = false;
  loadLogs();
  loadAnalytics();
  source = new EventSource("/v1/hub/live");
  source.addEventListener("tick", (e) => draw(JSON.parse(e.data)));
  source.onerror = async () => {
    const again = await fetch("/v1/hub/me", { credentials: "same-origin" });
    if (again.status === 401 || again.status === 403) showSignIn("Your session has ended; sign in again.");
  };
}

let mfaToken = null;

$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const body = mfaToken
    ? { mfa_token: mfaToken, code: form.get("code") }
    : { phone: form.get("phone"), password: form.get("password") };
  const r = await fetch("/v1/hub/session", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await r.json().catch(() => ({}));
  if (r.status === 200 && answer.mfa_required) {
    mfaToken = answer.mfa_token;
    $("code-label").hidden = false;
    $("sign-in-error").textContent = "Enter the code from your authenticator app.";
    return;
  }
  if (r.status !== 200) {
    $("sign-in-error").textContent = answer.detail || answer.title || `sign-in failed (${r.status})`;
    return;
  }
  mfaToken = null;
  start();
});

$("sign-out").addEventListener("click", async () => {
  await fetch("/v1/hub/session", { method: "DELETE" });
  showSignIn("");
});

start();

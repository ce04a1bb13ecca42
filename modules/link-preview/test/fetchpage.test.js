// Against a real HTTP server on 127.0.0.1 (the test policy allows loopback and nothing
// else, so no request can leave the machine).
import assert from "node:assert/strict";
import http from "node:http";
import zlib from "node:zlib";
import { after, before, test } from "node:test";
import { LinkNotAllowed, LinkTimedOut, LinkUnreachable } from "../src/errors.js";
import { MAX_BYTES, fetchPage } from "../src/fetchpage.js";
import { addressPolicy } from "../src/policy.js";
import { parseNetworks } from "../src/settings.js";

const allowed = addressPolicy({ env: "test", networks: parseNetworks("127.0.0.0/8") });
let server;
let base;

before(async () => {
  server = http.createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/page") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end("<title>ok</title>");
    } else if (path.startsWith("/hop/")) {
      const n = Number(path.split("/")[2]);
      res.writeHead(302, { Location: n > 0 ? `/hop/${n - 1}` : "/page" });
      res.end();
    } else if (path === "/to-private") {
      res.writeHead(301, { Location: "http://10.0.0.1/admin" });
      res.end();
    } else if (path === "/huge") {
      res.writeHead(200, { "Content-Type": "text/html", "Content-Encoding": "gzip" });
      res.end(zlib.gzipSync(Buffer.alloc(8 * MAX_BYTES, "a")));
    } else if (path === "/image") {
      res.writeHead(200, { "Content-Type": "image/png" });
      res.end("png");
    } else if (path === "/missing") {
      res.writeHead(404, { "Content-Type": "text/html" });
      res.end("no");
    } else if (path === "/silent") {
      // Never answers.
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

test("a page is fetched, its charset from the headers", async () => {
  const page = await fetchPage(`${base}/page`, { allowed });
  assert.equal(page.body.toString(), "<title>ok</title>");
  assert.equal(page.charset, "utf-8");
  assert.equal(page.finalUrl, `${base}/page`);
});

test("three redirects are followed, a fourth is refused", async () => {
  const page = await fetchPage(`${base}/hop/2`, { allowed });
  assert.equal(page.finalUrl, `${base}/page`);
  await assert.rejects(fetchPage(`${base}/hop/3`, { allowed }), LinkUnreachable);
});

test("a redirect to a private address is refused before any connection", async () => {
  await assert.rejects(fetchPage(`${base}/to-private`, { allowed }), LinkNotAllowed);
  const production = addressPolicy({ env: "production", networks: null });
  await assert.rejects(fetchPage(`${base}/page`, { allowed: production }), LinkNotAllowed);
});

test("at most 1 MiB of the decompressed body is read", async () => {
  const page = await fetchPage(`${base}/huge`, { allowed });
  assert.equal(page.body.length, MAX_BYTES);
});

test("error statuses and pages that are not HTML are unreachable", async () => {
  await assert.rejects(fetchPage(`${base}/missing`, { allowed }), /answered 404/);
  await assert.rejects(fetchPage(`${base}/image`, { allowed }), /not an HTML page/);
});

test("a page that never answers times out within the limit", async () => {
  const started = Date.now();
  await assert.rejects(fetchPage(`${base}/silent`, { allowed, timeoutMs: 300 }), LinkTimedOut);
  assert.ok(Date.now() - started < 2000);
});

test("a closed port is unreachable", async () => {
  const closed = http.createServer();
  await new Promise((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = closed.address().port;
  closed.close();
  await assert.rejects(fetchPage(`http://127.0.0.1:${port}/`, { allowed }), /refused/);
});

// Fetching a page within limits: at most 1 MiB of (decompressed) body read, one deadline for
// the whole fetch (5 s at most), at most 3 redirects, every connection checked against the
// address policy. Node's own http/https are used rather than the built-in fetch because
// fetch cannot be told which address to connect to: with it, the name would be resolved
// once to check it and once more to connect, and a name can change its answer in between
// (DNS rebinding). Here the check runs inside the connection's own `lookup`.

import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import zlib from "node:zlib";
import { LinkNotAllowed, LinkTimedOut, LinkUnreachable } from "./errors.js";

export const MAX_BYTES = 1024 * 1024;
export const MAX_REDIRECTS = 3;
export const TIMEOUT_MS = 5000;
const HTML_TYPES = new Set(["text/html", "application/xhtml+xml"]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

class Refused extends Error {}

/** A `lookup` for http.request that only ever hands out allowed addresses. */
function guardedLookup(allowed) {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { all: true, family: options?.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err);
      // One refused address refuses the name: a name that mixes public and private
      // answers is the shape of a rebinding attempt.
      const refused = addresses.find((a) => !allowed(a.address));
      if (refused || addresses.length === 0) {
        return callback(new Refused(`${hostname} resolves to an address that is not previewed`));
      }
      if (options?.all) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

function hostOf(url) {
  // URL keeps IPv6 literals in brackets; sockets want them bare.
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

function networkFailure(err, url) {
  if (err instanceof Refused) return new LinkNotAllowed(err.message);
  const code = err?.code ?? "";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "ENODATA") {
    return new LinkUnreachable(`${url.hostname} does not resolve`);
  }
  if (code === "ECONNREFUSED") return new LinkUnreachable(`${url.host} refused the connection`);
  if (code.startsWith("ERR_TLS") || code.includes("CERT") || code === "EPROTO") {
    return new LinkUnreachable(`${url.host}: TLS failed (${code})`);
  }
  return new LinkUnreachable(`${url.host}: the connection failed (${code || err?.message})`);
}

/** One request; resolves with the response, its body not read yet. */
function request(url, allowed, signal) {
  return new Promise((resolve, reject) => {
    const host = hostOf(url);
    if (net.isIP(host) && !allowed(host)) {
      reject(new LinkNotAllowed(`${url.host} is not an address that is previewed`));
      return;
    }
    const client = url.protocol === "https:" ? https : http;
    const req = client.request(
      url,
      {
        method: "GET",
        agent: false,
        lookup: guardedLookup(allowed),
        signal,
        headers: {
          "User-Agent": "QuarkLinkPreview/0.1 (+link previews of a Quark station)",
          Accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
          "Accept-Encoding": "gzip, deflate, br",
        },
      },
      resolve,
    );
    req.on("error", (err) => reject(signal.aborted ? timedOut(url) : networkFailure(err, url)));
    req.end();
  });
}

function timedOut(url) {
  return new LinkTimedOut(`${url.host} did not answer in time`);
}

function decoded(response) {
  const encoding = (response.headers["content-encoding"] || "identity").trim().toLowerCase();
  switch (encoding) {
    case "identity":
    case "":
      return response;
    case "gzip":
    case "x-gzip":
      return response.pipe(zlib.createGunzip());
    case "deflate":
      return response.pipe(zlib.createInflate());
    case "br":
      return response.pipe(zlib.createBrotliDecompress());
    default:
      throw new LinkUnreachable(`the page is encoded as ${encoding}`);
  }
}

/** Up to `limit` bytes of the body, decompressed; the rest is never read. */
async function readBody(response, url, signal, limit) {
  const chunks = [];
  let size = 0;
  let stream = response;
  try {
    stream = decoded(response);
    for await (const chunk of stream) {
      const room = limit - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size >= limit) break;
    }
  } catch (err) {
    if (signal.aborted) throw timedOut(url);
    if (err instanceof LinkUnreachable) throw err;
    throw new LinkUnreachable(`${url.host}: the page could not be read (${err?.code || err?.message})`);
  } finally {
    response.destroy();
    if (stream !== response) stream.destroy();
  }
  return Buffer.concat(chunks, size);
}

/**
 * Fetch the HTML page at `url`.
 * @param {string} url an absolute http(s) URL
 * @param {{allowed: (address: string) => boolean, timeoutMs?: number, maxBytes?: number}} options
 * @returns {Promise<{finalUrl: string, contentType: string, charset: string | null, body: Buffer}>}
 * @throws {LinkNotAllowed | LinkUnreachable | LinkTimedOut}
 */
export async function fetchPage(url, { allowed, timeoutMs = TIMEOUT_MS, maxBytes = MAX_BYTES }) {
  const signal = AbortSignal.timeout(Math.max(1, Math.min(timeoutMs, TIMEOUT_MS)));
  let current = new URL(url);
  for (let hop = 0; ; hop += 1) {
    if (current.protocol !== "http:" && current.protocol !== "https:") {
      throw new LinkNotAllowed(`a redirect led to a ${current.protocol} URL`);
    }
    if (current.username || current.password) {
      throw new LinkNotAllowed("a redirect led to a URL with credentials");
    }
    const response = await request(current, allowed, signal);
    const status = response.statusCode ?? 0;
    if (REDIRECTS.has(status) && response.headers.location) {
      response.destroy();
      if (hop >= MAX_REDIRECTS) {
        throw new LinkUnreachable(`more than ${MAX_REDIRECTS} redirects`);
      }
      try {
        current = new URL(response.headers.location, current);
      } catch {
        throw new LinkUnreachable("a redirect led to no valid URL");
      }
      continue;
    }
    if (status < 200 || status >= 300) {
      response.destroy();
      throw new LinkUnreachable(`the page answered ${status}`);
    }
    const [type, ...params] = (response.headers["content-type"] || "text/html").split(";");
    const contentType = type.trim().toLowerCase();
    if (!HTML_TYPES.has(contentType)) {
      response.destroy();
      throw new LinkUnreachable(`not an HTML page (${contentType})`);
    }
    const charset = params
      .map((p) => p.trim().split("="))
      .find(([k]) => k.trim().toLowerCase() === "charset")?.[1]
      ?.trim()
      .replace(/^"|"$/g, "");
    const body = await readBody(response, current, signal, maxBytes);
    return { finalUrl: current.href, contentType, charset: charset || null, body };
  }
}

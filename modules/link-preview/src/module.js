// The link-preview module: a NATS micro service named `quark-link-preview`, announced like
// every Python module (core/modules.py): metadata kind/module/host/pid/process/started, a
// `status` endpoint on `quark.status.link-preview.<instance id>`, endpoint stats whose `data`
// is always an object. It serves the links context's commands on `cmd.links.<Command>` in
// the queue group `handlers.links`, exactly where a Python handler worker would
// (core/bus.py), and answers with the same CommandReply.

import crypto from "node:crypto";
import os from "node:os";
import { readFileSync } from "node:fs";
import { ConcurrencyError, ConflictError, OverloadedError, QuarkError, ValidationError } from "./errors.js";
import {
  H_ACTOR,
  H_COMMAND_ID,
  H_CORRELATION_ID,
  H_DEADLINE,
  decodeCommit,
  envelope,
  errorReply,
  formatPosition,
  okReply,
  previewId,
  subjectOf,
  uuid7,
} from "./envelope.js";
import { EventStore } from "./eventstore.js";
import { extractPreview, decodeHtml } from "./extract.js";
import { TIMEOUT_MS, fetchPage } from "./fetchpage.js";
import { addressPolicy, describePolicy } from "./policy.js";

export const MODULE = "link-preview";
export const CONTEXT = "links";
export const AGGREGATE = "links.preview";
export const EVENT = "links.LinkPreviewed";
//: Where handlers announce "<person> <STREAM>:<seq>" before replying (core/bus.py).
export const WRITES_SUBJECT = "quark.writes";
//: Reload-and-append attempts before a conflict reaches the client as 409 (core/bus.py).
export const MAX_ATTEMPTS = 8;
//: Room left before the sender's deadline for appending and replying.
const DEADLINE_MARGIN_MS = 300;
const MAX_URL = 2048;

const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
//: One id per process, like core/modules.py PROCESS_ID.
export const PROCESS_ID = crypto.randomBytes(6).toString("hex");
//: Where the station's manager asks a process which modules it runs and stops one
//: (station/control.py): `quark stop link-preview`, `quark restart --rolling`, `quark scale`.
export const CONTROL_SUBJECT = `quark.control.${PROCESS_ID}`;
const PROCESS_STARTED = new Date().toISOString();

/** The metadata every Quark micro service carries (string values only). */
export function metadata() {
  return {
    kind: "handler",
    module: MODULE,
    host: os.hostname(),
    pid: String(process.pid),
    process: PROCESS_ID,
    started: new Date().toISOString(),
    process_started: PROCESS_STARTED,
    context: CONTEXT,
    runtime: `node ${process.version}`,
  };
}

/** `PreviewLink`'s body as core/commands.py would decode it: an object with exactly a `url`
 * string (forbid_unknown_fields), else a validation error naming the field. */
export function decodePreviewLink(data) {
  let body;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (err) {
    throw new ValidationError(`malformed command: ${err.message}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ValidationError("Expected `object`");
  }
  for (const key of Object.keys(body)) {
    if (key !== "url") throw new ValidationError(`Object contains unknown field \`${key}\``);
  }
  const { url } = body;
  if (typeof url !== "string") throw new ValidationError("Expected `str` - at `$.url`");
  if (url.length < 1 || url.length > MAX_URL) {
    throw new ValidationError(`Expected \`str\` of length 1 to ${MAX_URL} - at \`$.url\``);
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError("url is not a URL", { errors: [{ field: "url", message: "is not a URL" }] });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    const message = "must be an http or https URL";
    throw new ValidationError(`url ${message}`, { errors: [{ field: "url", message }] });
  }
  if (parsed.username || parsed.password) {
    const message = "must not carry a user name or password";
    throw new ValidationError(`url ${message}`, { errors: [{ field: "url", message }] });
  }
  return { url };
}

/** The answer to a retry of a command that already committed: as the first time, from the
 * preview its commit recorded. */
function duplicateReply(loaded, aggregateId) {
  const event = decodeCommit(loaded.earlier.data).find((e) => e.type === EVENT);
  return okReply({
    position: formatPosition(loaded.stream, loaded.earlier.seq),
    aggregateId,
    duplicate: true,
    result: event ? event.payload : null,
  });
}

export class LinkPreviewModule {
  /**
   * @param {import("nats").NatsConnection} nc
   * @param {ReturnType<import("./settings.js").loadSettings>} settings
   * @param {ReturnType<import("./log.js").createLogger>} log
   */
  constructor(nc, settings, log) {
    this.nc = nc;
    this.settings = settings;
    this.log = log;
    this.store = new EventStore(nc);
    this.allowed = addressPolicy(settings);
    this.inFlight = new Set();
    this.outcomes = {};
    this.service = null;
    this.control = null;
  }

  /** Answer the manager on this process's control subject; `onEmpty` runs once the module
   * has stopped on its request (the process then exits, as `quark run` does). */
  listenForControl(onEmpty) {
    const state = () => ({ process: PROCESS_ID, pid: process.pid, modules: this.service ? [MODULE] : [] });
    const reply = (msg, body) => {
      msg.respond(JSON.stringify(body));
      this.nc.flush().catch(() => {});
    };
    this.control = this.nc.subscribe(CONTROL_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        let request;
        try {
          request = JSON.parse(new TextDecoder().decode(msg.data));
        } catch (error) {
          reply(msg, { error: `bad request: ${error.message}` });
          return;
        }
        if (request?.op === "modules") {
          reply(msg, state());
        } else if (request?.op === "stop" && request.module) {
          if (request.module !== MODULE || !this.service) {
            reply(msg, { ...state(), stopped: false });
            return;
          }
          // Answer once drained: the manager counts the instance gone only then.
          this.stop().then(() => {
            this.log.info("control_stop", { module: MODULE });
            reply(msg, { ...state(), stopped: true });
            onEmpty();
          });
        } else {
          reply(msg, { error: `unknown operation ${JSON.stringify(request?.op)}` });
        }
      },
    });
  }

  get instance() {
    return this.service?.info().id ?? null;
  }

  async start() {
    const service = await this.nc.services.add({
      name: `quark-${MODULE}`,
      version: VERSION,
      description: "Link previews (Node.js): fetches a linked page and records what it says",
      metadata: metadata(),
      // An object, never null: the micro schema (and `nats micro stats`) refuse null.
      statsHandler: async () => ({ in_flight: this.inFlight.size }),
    });
    // nats.js leaves `last_error` out of an endpoint's stats until an error happens; the
    // protocol's schema requires the string. The internal STATS handler calls this method.
    const stats = service.stats.bind(service);
    service.stats = async () => {
      const answer = await stats();
      for (const endpoint of answer.endpoints ?? []) endpoint.last_error ??= "";
      return answer;
    };
    this.service = service;
    const id = service.info().id;
    service.addEndpoint("status", {
      subject: `quark.status.${MODULE}.${id}`,
      handler: (err, msg) => {
        if (err) return;
        msg.respond(JSON.stringify({ module: MODULE, instance: id, ...this.status() }));
      },
    });
    service.addEndpoint("PreviewLink", {
      subject: `cmd.${CONTEXT}.PreviewLink`,
      queue: `handlers.${CONTEXT}`,
      handler: (err, msg) => {
        if (err) {
          this.log.error("endpoint_failed", { error: String(err) });
          return;
        }
        this.dispatch(msg);
      },
    });
    this.log.info("module_started", {
      instance: id,
      pid: process.pid,
      subjects: [`cmd.${CONTEXT}.PreviewLink`],
      addresses: describePolicy(this.settings),
    });
    return this;
  }

  status() {
    return {
      in_flight: this.inFlight.size,
      concurrency: this.settings.concurrency,
      outcomes: { ...this.outcomes },
      addresses: describePolicy(this.settings),
      runtime: `node ${process.version}`,
    };
  }

  /** Hand each request to its own promise; shed at once beyond the concurrency bound. */
  dispatch(msg) {
    if (this.inFlight.size >= this.settings.concurrency) {
      this.count("overloaded");
      const busy = new OverloadedError(
        `the ${CONTEXT} handler has ${this.settings.concurrency} commands in flight`,
      );
      this.respond(msg, errorReply(busy));
      return;
    }
    const task = this.handle(msg).finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  count(outcome) {
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
  }

  respond(msg, reply) {
    try {
      msg.respond(JSON.stringify(reply));
    } catch (err) {
      this.log.warning("reply_failed", { error: String(err) });
    }
  }

  async handle(msg) {
    const h = msg.headers;
    const commandId = h?.get(H_COMMAND_ID) || uuid7();
    const correlationId = h?.get(H_CORRELATION_ID) || commandId;
    const actor = h?.get(H_ACTOR) || null;
    const log = this.log.bind({ command: "PreviewLink", command_id: commandId, correlation_id: correlationId });
    const deadline = h?.get(H_DEADLINE) ?? "";
    const deadlineMs = /^\d+$/.test(deadline) ? Number(deadline) : null;
    if (deadlineMs !== null && deadlineMs < Date.now()) {
      // The sender gave up (and answered its client 503): executing now would surprise.
      this.count("expired");
      log.warning("command_expired");
      return;
    }
    const started = performance.now();
    let reply;
    let outcome = "ok";
    try {
      const command = decodePreviewLink(msg.data);
      reply = await this.previewLink(command, { commandId, correlationId, actor, deadlineMs, log });
    } catch (err) {
      if (err instanceof QuarkError) {
        outcome = err.code;
        reply = errorReply(err);
      } else {
        // Never leave the sender waiting for a timeout: answer, log the trace here only.
        outcome = "internal";
        log.error("command_failed", { error: err?.stack ?? String(err) });
        reply = errorReply(new QuarkError("the command could not be handled"));
      }
    }
    this.count(outcome);
    log.info("command_handled", { outcome, ms: Math.round(performance.now() - started) });
    if (reply.ok && actor && reply.position) {
      // Before the reply, on the same connection: every edge learns of the person's write
      // before the person can read (read-your-writes, edge/writes.py).
      try {
        this.nc.publish(WRITES_SUBJECT, `${actor} ${reply.position}`);
      } catch (err) {
        log.warning("writes_announcement_failed", { error: String(err) });
      }
    }
    this.respond(msg, reply);
  }

  /** Fetch the page and append `links.LinkPreviewed`, once per command id. */
  async previewLink({ url }, { commandId, correlationId, actor, deadlineMs, log }) {
    const id = previewId(url);
    const subject = subjectOf(AGGREGATE, id);
    let loaded = await this.store.load(subject, commandId);
    if (loaded.earlier) return duplicateReply(loaded, id);
    const budget = deadlineMs === null ? TIMEOUT_MS : deadlineMs - Date.now() - DEADLINE_MARGIN_MS;
    const page = await fetchPage(url, { allowed: this.allowed, timeoutMs: Math.min(budget, TIMEOUT_MS) });
    const preview = extractPreview(decodeHtml(page.body, page.charset), page.finalUrl);
    const payload = {
      url,
      final_url: page.finalUrl,
      title: preview.title,
      description: preview.description,
      site_name: preview.site_name,
      image: preview.image,
      fetched_at: new Date().toISOString(),
    };
    const events = [
      envelope({
        type: EVENT,
        aggregate: { type: AGGREGATE, id },
        actor,
        correlationId,
        causationId: commandId,
        payload,
      }),
    ];
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      if (attempt > 0) {
        loaded = await this.store.load(subject, commandId);
        if (loaded.earlier) return duplicateReply(loaded, id);
      }
      try {
        const ack = await this.store.append(subject, loaded.seq, events, { commandId, correlationId });
        log.debug("preview_appended", { position: formatPosition(ack.stream, ack.seq) });
        return okReply({
          position: formatPosition(ack.stream, ack.seq),
          aggregateId: id,
          duplicate: ack.duplicate,
          result: payload,
        });
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        // Someone previewed the same link meanwhile (or this command's first attempt
        // landed): load again. The page need not be fetched again: the decision does not
        // depend on the aggregate's state.
      }
    }
    throw new ConflictError(`${AGGREGATE} ${id} kept changing; gave up after ${MAX_ATTEMPTS} attempts`);
  }

  /** Stop taking commands, then let the ones in flight finish (graceful drain). */
  async stop(timeoutMs = 10_000) {
    if (this.service) {
      await this.service.stop().catch(() => {});
      this.service = null;
    }
    if (this.inFlight.size) {
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
  }
}

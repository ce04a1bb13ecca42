// The wire contract with the Python kernel, mirrored field for field:
// - the event envelope and the commit (core/envelope.py): one JetStream message per command,
//   a JSON object {"events": [envelope, ...]}, envelope keys in the Struct's order;
// - command headers and the reply (core/commands.py): CommandReply with ok, position
//   "<STREAM>:<seq>", aggregate_id, duplicate, error {code, status, title, detail, errors,
//   retry_after}, result;
// - ids (core/ids.py): UUIDv7 for envelopes, monotonic within the process; UUIDv5 for the
//   aggregate of a link (handlers/links/urls.py `preview_id`, same namespace).

import crypto from "node:crypto";

export const H_COMMAND_ID = "Quark-Command-Id";
export const H_ACTOR = "Quark-Actor";
export const H_ROLES = "Quark-Roles";
export const H_CORRELATION_ID = "Quark-Correlation-Id";
export const H_DEADLINE = "Quark-Deadline";

//: The UUIDv5 namespace of link previews (handlers/links/urls.py NAMESPACE).
export const PREVIEW_NAMESPACE = "00c8460d-c74d-42e0-90df-4afada47dcf1";

let lastMs = 0;
let counter = 0;

function format(bytes) {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A RFC 9562 version 7 UUID; ids made in one millisecond sort in creation order (a 12-bit
 * counter in rand_a, as core/ids.py does). */
export function uuid7(now = Date.now()) {
  let ms = now;
  if (ms <= lastMs) {
    counter += 1;
    if (counter > 0xfff) {
      lastMs += 1;
      counter = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    counter = crypto.randomBytes(2).readUInt16BE(0) & 0x3ff;
  }
  const bytes = crypto.randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | ((counter >> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return format(bytes);
}

/** A RFC 9562 version 5 UUID (SHA-1 of namespace and name), as Python's uuid.uuid5. */
export function uuid5(namespace, name) {
  const ns = Buffer.from(namespace.replaceAll("-", ""), "hex");
  const digest = crypto.createHash("sha1").update(ns).update(name, "utf8").digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return format(bytes);
}

/** The aggregate of the previews of `url` (already normalised by the sender). */
export function previewId(url) {
  return uuid5(PREVIEW_NAMESPACE, url);
}

/** Canonical lower-case UUID, the only spelling allowed in a subject (core/ids.py is_uuid). */
export function isUuid(value) {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
}

/** `ev.<context>.<aggregate_type>.<id>` (core/eventstore.py subject_of). */
export function subjectOf(aggregateType, id) {
  if (!isUuid(id)) {
    throw new Error(`${JSON.stringify(id)} is not a canonical UUID`);
  }
  return `ev.${aggregateType}.${id}`;
}

/** One envelope (core/envelope.py Envelope), keys in the Struct's order. */
export function envelope({ type, schema = 1, aggregate, actor, correlationId, causationId, payload, at }) {
  return {
    id: uuid7(),
    type,
    schema,
    aggregate: { type: aggregate.type, id: aggregate.id },
    occurred_at: (at ?? new Date()).toISOString(),
    actor: actor ?? null,
    correlation_id: correlationId,
    causation_id: causationId,
    payload,
  };
}

/** A commit's bytes: what one JetStream message holds (core/envelope.py Commit). */
export function encodeCommit(envelopes) {
  return new TextEncoder().encode(JSON.stringify({ events: envelopes }));
}

/** The envelopes of a stored commit. */
export function decodeCommit(data) {
  const commit = JSON.parse(new TextDecoder().decode(data));
  if (!commit || !Array.isArray(commit.events)) {
    throw new Error("not a commit: no events list");
  }
  return commit.events;
}

export function formatPosition(stream, seq) {
  return `${stream}:${seq}`;
}

/** A successful CommandReply; defaults are left out as msgspec's omit_defaults does. */
export function okReply({ position, aggregateId, duplicate = false, result = null }) {
  const reply = { ok: true, position, aggregate_id: aggregateId };
  if (duplicate) reply.duplicate = true;
  if (result !== null) reply.result = result;
  return reply;
}

/** A failed CommandReply carrying a typed error (core/commands.py ErrorBody). */
export function errorReply(error) {
  return {
    ok: false,
    error: {
      code: error.code,
      status: error.status,
      title: error.title,
      detail: error.detail,
      errors: error.errors ?? [],
      retry_after: error.retryAfter ?? null,
    },
  };
}

import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeCommit, envelope, errorReply, okReply, previewId, subjectOf, uuid5, uuid7 } from "../src/envelope.js";
import { LinkTimedOut } from "../src/errors.js";

test("a link's aggregate is the UUIDv5 Python's preview_id computes", () => {
  // handlers/links/urls.py preview_id("http://example.org/"), computed by Python.
  assert.equal(previewId("http://example.org/"), "706ad72e-d899-549d-8046-904cd946c77a");
  // RFC 9562's example: uuid5(NAMESPACE_DNS, "www.example.com").
  assert.equal(
    uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"),
    "2ed6657d-e927-568b-95e1-2665a8aea6a2",
  );
});

test("envelope ids are version 7 and sort in creation order", () => {
  const ids = Array.from({ length: 2000 }, () => uuid7());
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual([...ids].sort(), ids);
});

test("a commit is an object with the events list, keys in the envelope's order", () => {
  const e = envelope({
    type: "links.LinkPreviewed",
    aggregate: { type: "links.preview", id: previewId("http://a/") },
    actor: null,
    correlationId: "c",
    causationId: "k",
    payload: { url: "http://a/" },
    at: new Date("2026-12-02T10:00:00Z"),
  });
  const decoded = JSON.parse(new TextDecoder().decode(encodeCommit([e])));
  assert.deepEqual(Object.keys(decoded), ["events"]);
  assert.deepEqual(Object.keys(decoded.events[0]), [
    "id", "type", "schema", "aggregate", "occurred_at", "actor", "correlation_id", "causation_id", "payload",
  ]);
  assert.equal(decoded.events[0].occurred_at, "2026-12-02T10:00:00.000Z");
});

test("ids in subjects are canonical UUIDs only", () => {
  assert.equal(subjectOf("links.preview", previewId("http://a/")).split(".").length, 4);
  for (const bad of ["a.b", "*", ">", previewId("http://a/").toUpperCase()]) {
    assert.throws(() => subjectOf("links.preview", bad));
  }
});

test("replies are CommandReply as msgspec writes it: defaults left out, errors whole", () => {
  assert.deepEqual(okReply({ position: "LINKS:3", aggregateId: "x" }), {
    ok: true,
    position: "LINKS:3",
    aggregate_id: "x",
  });
  assert.deepEqual(errorReply(new LinkTimedOut("slow")), {
    ok: false,
    error: {
      code: "link-timed-out",
      status: 504,
      title: "The linked page did not answer in time",
      detail: "slow",
      errors: [],
      retry_after: null,
    },
  });
});

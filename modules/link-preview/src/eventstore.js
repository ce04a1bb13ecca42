// The event store's two operations this module needs, done as core/eventstore.py does them:
// - `load` reads one aggregate's subject with batch direct gets (`$JS.API.DIRECT.GET.<stream>`
//   with `next_by_subj` and `batch`), returning its last sequence and, when the command being
//   handled already committed there, that commit (a retried command is recognised from its
//   `Nats-Msg-Id` in the log, never decided twice);
// - `append` publishes one commit with `Nats-Expected-Last-Subject-Sequence` (optimistic
//   concurrency), `Nats-Msg-Id` = the command id (deduplication) and the correlation id.

import { RequestStrategy, headers as natsHeaders } from "nats";
import { ConcurrencyError, UnavailableError } from "./errors.js";
import { H_CORRELATION_ID, encodeCommit } from "./envelope.js";

//: JetStream's error code for "wrong last sequence" (core/eventstore.py WRONG_LAST_SEQUENCE).
export const WRONG_LAST_SEQUENCE = 10071;
const BATCH = 1000;

function unavailable(err) {
  return new UnavailableError(`NATS did not answer (${err?.code || err?.message || err})`);
}

export class EventStore {
  /**
   * @param {import("nats").NatsConnection} nc
   * @param {{timeoutMs?: number}} [options]
   */
  constructor(nc, { timeoutMs = 5000 } = {}) {
    this.nc = nc;
    this.timeoutMs = timeoutMs;
    this.js = nc.jetstream({ timeout: timeoutMs });
    this._streams = new Map();
  }

  /** The stream that stores `subject` (from the server: streams.yaml declared it). */
  async streamFor(subject) {
    const context = subject.split(".")[1];
    let stream = this._streams.get(context);
    if (stream === undefined) {
      try {
        const jsm = await this.nc.jetstreamManager({ timeout: this.timeoutMs });
        stream = await jsm.streams.find(subject);
      } catch (err) {
        if (err?.api_error || /no stream matches subject/i.test(err?.message ?? "")) {
          throw new UnavailableError(`no stream holds ${subject}: apply streams.yaml`);
        }
        throw unavailable(err);
      }
      this._streams.set(context, stream);
    }
    return stream;
  }

  /**
   * The aggregate on `subject` as the log has it now.
   * @returns {Promise<{stream: string, seq: number, earlier: {seq: number, data: Uint8Array} | null}>}
   *   `seq` is the subject's last sequence (0: no commit yet); `earlier` is the commit that
   *   `commandId` produced, if it did.
   */
  async load(subject, commandId) {
    const stream = await this.streamFor(subject);
    let seq = 0;
    let earlier = null;
    for await (const [msgSeq, msgId, data] of this.readSubject(stream, subject)) {
      seq = msgSeq;
      if (msgId === commandId) earlier = { seq: msgSeq, data };
    }
    return { stream, seq, earlier };
  }

  /** Yield [seq, msg id, commit bytes] of every message on `subject` from `start`. */
  async *readSubject(stream, subject, start = 1) {
    let next = start;
    while (true) {
      const request = JSON.stringify({ seq: next, next_by_subj: subject, batch: BATCH });
      let replies;
      try {
        replies = await this.nc.requestMany(`$JS.API.DIRECT.GET.${stream}`, request, {
          strategy: RequestStrategy.SentinelMsg,
          maxWait: this.timeoutMs,
        });
      } catch (err) {
        throw unavailable(err);
      }
      let received = 0;
      let ended = false;
      try {
        for await (const msg of replies) {
          const code = msg.headers?.code ?? 0;
          if (code !== 0) {
            // 204: end of the batch; 404: nothing (more) on the subject.
            if (code === 204 || code === 404) {
              ended = true;
              break;
            }
            throw new UnavailableError(`direct get answered ${code} ${msg.headers.description}`);
          }
          const seq = Number(msg.headers.get("Nats-Sequence"));
          received += 1;
          next = seq + 1;
          yield [seq, msg.headers.get("Nats-Msg-Id") || null, msg.data];
        }
      } catch (err) {
        if (err instanceof UnavailableError) throw err;
        throw unavailable(err);
      }
      if (!ended) {
        // The iterator ends silently when its wait runs out: that is no answer, not "empty".
        throw new UnavailableError("the log did not answer a read in time");
      }
      if (received < BATCH) return;
    }
  }

  /**
   * Append `envelopes` as one commit if the subject is still at `expectedSeq`.
   * @returns {Promise<{stream: string, seq: number, duplicate: boolean}>}
   * @throws {ConcurrencyError} the aggregate moved on: load again and retry
   * @throws {UnavailableError} NATS did not confirm; retrying with the same command id is safe
   */
  async append(subject, expectedSeq, envelopes, { commandId, correlationId }) {
    const hdrs = natsHeaders();
    hdrs.set(H_CORRELATION_ID, correlationId);
    try {
      const ack = await this.js.publish(subject, encodeCommit(envelopes), {
        msgID: commandId,
        expect: { lastSubjectSequence: expectedSeq },
        headers: hdrs,
        timeout: this.timeoutMs,
      });
      return { stream: ack.stream, seq: ack.seq, duplicate: Boolean(ack.duplicate) };
    } catch (err) {
      if (err?.api_error?.err_code === WRONG_LAST_SEQUENCE) {
        throw new ConcurrencyError(`expected last sequence ${expectedSeq} on ${subject}`);
      }
      throw unavailable(err);
    }
  }
}

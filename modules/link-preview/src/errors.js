// Typed errors, each with the stable code, HTTP status and title the Python side declares
// (handlers/links/errors.py, core/errors.py): the reply's ErrorBody carries them unchanged,
// and only the edge turns them into problem documents.

export class QuarkError extends Error {
  static code = "internal";
  static status = 500;
  static title = "Internal error";

  /**
   * @param {string} [detail] what went wrong, for a person to read
   * @param {{errors?: {field: string, message: string}[], retryAfter?: number}} [options]
   */
  constructor(detail, { errors = [], retryAfter = null } = {}) {
    super(detail || new.target.title);
    this.detail = detail || new.target.title;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }

  get code() {
    return this.constructor.code;
  }

  get status() {
    return this.constructor.status;
  }

  get title() {
    return this.constructor.title;
  }
}

export class ValidationError extends QuarkError {
  static code = "validation";
  static status = 422;
  static title = "The request is not valid";
}

export class ConflictError extends QuarkError {
  static code = "conflict";
  static status = 409;
  static title = "Conflict";
}

export class UnavailableError extends QuarkError {
  static code = "unavailable";
  static status = 503;
  static title = "A dependency is unavailable; retry later";

  constructor(detail) {
    super(detail, { retryAfter: 1.0 });
  }
}

export class OverloadedError extends UnavailableError {
  static code = "overloaded";
  static title = "The service is busy; retry shortly";
}

export class LinkNotAllowed extends ValidationError {
  static code = "link-not-allowed";
  static title = "Links to this address are not previewed";
}

export class LinkUnreachable extends ValidationError {
  static code = "link-unreachable";
  static title = "The linked page could not be previewed";
}

export class LinkTimedOut extends QuarkError {
  static code = "link-timed-out";
  static status = 504;
  static title = "The linked page did not answer in time";
}

/** The aggregate moved on since it was loaded (JetStream's wrong-last-sequence, 10071). */
export class ConcurrencyError extends ConflictError {
  static code = "concurrency-conflict";
  static title = "The resource was changed concurrently; retry";
}

/** A setting is missing or wrong; the message names the variable. */
export class ConfigError extends Error {}

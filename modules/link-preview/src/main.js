#!/usr/bin/env node
// Entry point: connect to NATS (QUARK_NATS_URL), announce the module, serve until SIGTERM
// or SIGINT, then stop taking commands, finish those in flight and drain the connection.

import { connect } from "nats";
import { ConfigError } from "./errors.js";
import { createLogger } from "./log.js";
import { LinkPreviewModule, MODULE } from "./module.js";
import { loadSettings } from "./settings.js";

async function main() {
  let settings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`quark ${MODULE}: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(settings.logLevel, { module: MODULE });
  let nc;
  try {
    nc = await connect({
      servers: settings.natsUrls,
      name: `quark-${MODULE}`,
      // Once connected, reconnect forever (as core/bootstrap.py connect_nats does).
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 3000,
    });
  } catch (err) {
    log.error("nats_unreachable", { servers: settings.natsUrls, error: String(err) });
    return 3;
  }
  log.shipTo(nc);
  const module = await new LinkPreviewModule(nc, settings, log).start();
  let stopRequested;
  const stopped = new Promise((resolve) => {
    stopRequested = resolve;
  });
  module.listenForControl(() => stopRequested("control"));
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") {
        log.warning(`nats_${status.type}`, { server: String(status.data) });
      }
    }
  })().catch(() => {});
  process.once("SIGTERM", () => stopRequested("SIGTERM"));
  process.once("SIGINT", () => stopRequested("SIGINT"));
  const reason = await stopped;
  log.info("stopping", { reason });
  await module.stop();
  log.info("stopped");
  log.shipTo(null);
  await nc.drain().catch(() => {});
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`quark ${MODULE}: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);

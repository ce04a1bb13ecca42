// Settings from the same QUARK_* variables as the Python modules (core/settings.py declares
// and validates every one of them; README.md lists them). This module reads only these.

import net from "node:net";
import { ConfigError } from "./errors.js";

const ENVS = new Set(["dev", "test", "production"]);
const LEVELS = ["debug", "info", "warning", "error"];
//: Fetches one process makes at once, whatever QUARK_HANDLER_CONCURRENCY says: each may hold
//: up to 1 MiB of page.
const MAX_CONCURRENCY = 64;

/** A comma-separated list of CIDR networks (`127.0.0.0/8, ::1/128`) as a net.BlockList. */
export function parseNetworks(text) {
  const list = new net.BlockList();
  const parts = text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  for (const part of parts) {
    const [address, bits, extra] = part.split("/");
    const family = net.isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (
      !family ||
      extra !== undefined ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (family === 6 ? 128 : 32)
    ) {
      throw new ConfigError(
        `QUARK_LINK_PREVIEW_NETWORKS: ${JSON.stringify(part)} is not a network such as 127.0.0.0/8`,
      );
    }
    list.addSubnet(address, prefix, family === 6 ? "ipv6" : "ipv4");
  }
  return parts.length ? list : null;
}

/** The module's settings from `env` (the process environment by default). */
export function loadSettings(env = process.env) {
  const natsUrl = env.QUARK_NATS_URL || "";
  if (!natsUrl) {
    throw new ConfigError("QUARK_NATS_URL is required (nats://host:4222, comma-separated)");
  }
  const quarkEnv = env.QUARK_ENV || "dev";
  if (!ENVS.has(quarkEnv)) {
    throw new ConfigError(`QUARK_ENV: ${JSON.stringify(quarkEnv)} is not dev, test or production`);
  }
  const logLevel = env.QUARK_LOG_LEVEL || "info";
  if (!LEVELS.includes(logLevel)) {
    throw new ConfigError(`QUARK_LOG_LEVEL: ${JSON.stringify(logLevel)} is not one of ${LEVELS}`);
  }
  const concurrency = Number(env.QUARK_HANDLER_CONCURRENCY || "512");
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError("QUARK_HANDLER_CONCURRENCY must be at least 1");
  }
  return {
    natsUrls: natsUrl.split(",").map((u) => u.trim()),
    env: quarkEnv,
    logLevel,
    concurrency: Math.min(concurrency, MAX_CONCURRENCY),
    networks: parseNetworks(env.QUARK_LINK_PREVIEW_NETWORKS || ""),
  };
}

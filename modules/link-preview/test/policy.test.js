import assert from "node:assert/strict";
import { test } from "node:test";
import { addressPolicy } from "../src/policy.js";
import { parseNetworks } from "../src/settings.js";

const INTERNAL = [
  "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
  "fc00::1", "fe80::1", "::", "::ffff:10.0.0.1", "224.0.0.1",
];

test("production previews public addresses only", () => {
  const allowed = addressPolicy({ env: "production", networks: null });
  for (const address of [...INTERNAL, "127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(allowed(address), false, address);
  }
  for (const address of ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]) {
    assert.equal(allowed(address), true, address);
  }
});

test("dev and test add loopback, never the private ranges", () => {
  const allowed = addressPolicy({ env: "test", networks: null });
  assert.equal(allowed("127.0.0.1"), true);
  assert.equal(allowed("::1"), true);
  for (const address of INTERNAL) assert.equal(allowed(address), false, address);
});

test("QUARK_LINK_PREVIEW_NETWORKS is the whole list when set", () => {
  const allowed = addressPolicy({ env: "production", networks: parseNetworks("127.0.0.0/8, ::1") });
  assert.equal(allowed("127.0.0.2"), true);
  assert.equal(allowed("::1"), true);
  assert.equal(allowed("93.184.215.14"), false);
  assert.throws(() => parseNetworks("127.0.0.0/33"), /QUARK_LINK_PREVIEW_NETWORKS/);
  assert.throws(() => parseNetworks("localhost"), /QUARK_LINK_PREVIEW_NETWORKS/);
});

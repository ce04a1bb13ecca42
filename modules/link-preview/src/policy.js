// Which addresses a preview may connect to. A link preview fetches whatever URL a person
// posts, so without this it would be a way into the station's own network (server-side
// request forgery): the metadata service at 169.254.169.254, NATS, PostgreSQL, the admin
// ports on loopback. The check runs on the address the socket actually connects to (after
// DNS, on every redirect), so a name that resolves to a private address is refused too.

import net from "node:net";

// Special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries) that are not
// the public internet.
const NON_PUBLIC = [
  ["0.0.0.0", 8, "ipv4"],
  ["10.0.0.0", 8, "ipv4"],
  ["100.64.0.0", 10, "ipv4"],
  ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.0.2.0", 24, "ipv4"],
  ["192.88.99.0", 24, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["198.18.0.0", 15, "ipv4"],
  ["198.51.100.0", 24, "ipv4"],
  ["203.0.113.0", 24, "ipv4"],
  ["224.0.0.0", 4, "ipv4"],
  ["240.0.0.0", 4, "ipv4"],
  ["::", 128, "ipv6"],
  ["::1", 128, "ipv6"],
  ["64:ff9b:1::", 48, "ipv6"],
  ["100::", 64, "ipv6"],
  ["2001::", 23, "ipv6"],
  ["2001:db8::", 32, "ipv6"],
  ["2002::", 16, "ipv6"],
  ["fc00::", 7, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
];

const LOOPBACK = [
  ["127.0.0.0", 8, "ipv4"],
  ["::1", 128, "ipv6"],
];

function blockList(ranges) {
  const list = new net.BlockList();
  for (const [address, prefix, family] of ranges) list.addSubnet(address, prefix, family);
  return list;
}

const nonPublic = blockList(NON_PUBLIC);
const loopback = blockList(LOOPBACK);

/** `::ffff:10.0.0.1` and friends are the IPv4 address they embed. */
function unmapped(address) {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

/**
 * The address policy of this process.
 * @param {{env: string, networks: net.BlockList | null}} settings
 *   `networks` (QUARK_LINK_PREVIEW_NETWORKS), when set, is the whole list of networks a
 *   preview may reach. Otherwise public addresses only, plus loopback in dev and test (a
 *   page served on this machine); never private ranges, link-local or the like.
 * @returns {(address: string) => boolean}
 */
export function addressPolicy({ env, networks }) {
  const localToo = env === "dev" || env === "test";
  return (raw) => {
    const address = unmapped(raw);
    const family = net.isIP(address);
    if (!family) return false;
    const kind = family === 6 ? "ipv6" : "ipv4";
    if (networks) return networks.check(address, kind);
    if (localToo && loopback.check(address, kind)) return true;
    return !nonPublic.check(address, kind);
  };
}

/** What the policy allows, for the status endpoint and the logs. */
export function describePolicy({ env, networks }) {
  if (networks) return "only QUARK_LINK_PREVIEW_NETWORKS";
  return env === "production" ? "public addresses" : "public addresses and loopback";
}

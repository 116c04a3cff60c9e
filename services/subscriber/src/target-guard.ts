import ipaddr from 'ipaddr.js';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/** A CIDR range, parsed: `[address, prefix length]`. */
export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses `127.0.0.0/8,::1/128`; throws naming the entry that is not a CIDR range. */
export function parseCidrList(text: string): Cidr[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      try {
        return ipaddr.parseCIDR(entry);
      } catch {
        throw new Error(`"${entry}" is not a CIDR range such as 127.0.0.0/8 or ::1/128`);
      }
    });
}

/** A webhook target that may not be called, and why. */
export class TargetRefused extends Error {
  override readonly name = 'TargetRefused';
}

/**
 * Keeps webhook requests off the subscriber's own network (server-side request forgery): only
 * public unicast addresses are called, unless an address lies in a range the operator allowed.
 * Everything else ipaddr.js knows as special is refused — loopback, private, link-local,
 * unique-local, carrier-grade NAT, multicast, reserved, unspecified — and an IPv4 address inside
 * IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address it is.
 */
export class TargetGuard {
  readonly #allowed: readonly Cidr[];

  constructor(allowed: readonly Cidr[]) {
    this.#allowed = allowed;
  }

  /** Why `address` may not be called; undefined when it may. */
  refusal(address: string): string | undefined {
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      parsed = ipaddr.process(address);
    } catch {
      return `${address} is not an IP address`;
    }
    if (this.#allowed.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits)))
      return undefined;
    const range = parsed.range();
    if (range === 'unicast') return undefined;
    return `${address} is a ${range} address (allow it with SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE)`;
  }

  /**
   * Resolves `hostname` as a connection would and checks every address: the check when a webhook
   * is created. Throws TargetRefused (or the DNS error).
   */
  async check(hostname: string): Promise<void> {
    const host = unbracket(hostname);
    const addresses =
      isIP(host) !== 0
        ? [host]
        : await new Promise<string[]>((resolveAll, reject) =>
            dnsLookup(host, { all: true }, (err, found) =>
              err === null ? resolveAll(found.map((one) => one.address)) : reject(err),
            ),
          );
    for (const address of addresses) {
      const refusal = this.refusal(address);
      if (refusal !== undefined) throw new TargetRefused(`${hostname} resolves to ${refusal}`);
    }
  }

  /**
   * A `lookup` for the sockets of webhook requests: the addresses are checked as the connection
   * is made, so a name that resolved to a public address at creation and to a private one now
   * (DNS rebinding) is still refused. A literal IP never reaches a lookup: check it with `refusal`.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, found: LookupAddress[]) => {
      if (err !== null) {
        callback(err, '', 4);
        return;
      }
      for (const { address } of found) {
        const refusal = this.refusal(address);
        if (refusal !== undefined) {
          callback(new TargetRefused(`${hostname} resolves to ${refusal}`), '', 4);
          return;
        }
      }
      if (options.all === true) {
        (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, found);
        return;
      }
      const [first] = found;
      if (first === undefined) callback(new TargetRefused(`${hostname} has no address`), '', 4);
      else callback(null, first.address, first.family);
    });
  };
}

/** `[::1]` as URL.hostname gives it, without the brackets. */
export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

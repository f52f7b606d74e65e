/**
 * Where an IP literal points, for the URL policy: models (and any engine of ours that fetches)
 * must only be sent to public hosts. Only literals are classified; names are not resolved
 * (the hosted service, not this process, fetches the URL, and a lookup here would prove
 * nothing about what it will see).
 */
export type AddressKind =
  'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved';

/** Words for messages: "127.0.0.1, a loopback address". */
export const ADDRESS_WORDS: Readonly<Record<Exclude<AddressKind, 'public'>, string>> = {
  loopback: 'a loopback address',
  private: 'a private network address',
  'link-local': 'a link-local address',
  metadata: 'the cloud metadata service address',
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
};

/** Addresses that answer with cloud credentials on the major clouds (AWS, GCP, Azure, Alibaba, Oracle). */
const METADATA_V4 = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', '192.0.0.192']);

type V4Range = readonly [base: number, prefix: number, kind: Exclude<AddressKind, 'public'>];

const V4_RANGES: readonly V4Range[] = [
  [v4(0, 0, 0, 0), 8, 'unspecified'],
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'private'], // shared address space (carrier-grade NAT)
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'],
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'], // benchmarking
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'], // includes 255.255.255.255
];

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** `a.b.c.d` with four decimal parts (the form WHATWG URL parsing normalises every IPv4 host to). */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let out = 0;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out = out * 256 + n;
  }
  return out >>> 0;
}

export function classifyIpv4(address: number): AddressKind {
  const dotted = [24, 16, 8, 0].map((s) => (address >>> s) & 255).join('.');
  if (METADATA_V4.has(dotted)) return 'metadata';
  for (const [base, prefix, kind] of V4_RANGES) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((address & mask) >>> 0 === base) return kind;
  }
  return 'public';
}

/** Eight 16-bit groups, or undefined when the text is not an IPv6 address (brackets not included). */
export function parseIpv6(text: string): number[] | undefined {
  let rest = text.toLowerCase();
  const zone = rest.indexOf('%');
  if (zone >= 0) rest = rest.slice(0, zone);
  let tail: number[] = [];
  // An embedded dotted IPv4 address as the last 32 bits.
  if (rest.includes('.')) {
    const lastColon = rest.lastIndexOf(':');
    if (lastColon < 0) return undefined;
    const four = parseIpv4(rest.slice(lastColon + 1));
    if (four === undefined) return undefined;
    tail = [four >>> 16, four & 0xffff];
    // "::ffff:1.2.3.4" leaves "::ffff"; "::1.2.3.4" leaves ":", which is the "::" it was.
    rest = rest.slice(0, lastColon);
    if (rest.endsWith(':')) rest += ':';
  }
  const halves = rest.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const back = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !back) return undefined;
  const known = head.length + back.length + tail.length;
  if (halves.length === 1) return known === 8 ? [...head, ...tail] : undefined;
  if (known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...back, ...tail];
}

export function classifyIpv6(groups: readonly number[]): AddressKind {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const embedded = ((g6 << 16) | g7) >>> 0;
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (upperZero && g5 === 0 && g6 === 0 && g7 === 0) return 'unspecified';
  if (upperZero && g5 === 0 && g6 === 0 && g7 === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach
  // the IPv4 address inside; so does the NAT64 well-known prefix 64:ff9b::/96.
  if (upperZero && (g5 === 0xffff || g5 === 0)) return classifyIpv4(embedded);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0)
    return classifyIpv4(embedded);
  if (
    g0 === 0xfd00 &&
    g1 === 0x0ec2 &&
    g2 === 0 &&
    g3 === 0 &&
    g4 === 0 &&
    g5 === 0 &&
    g6 === 0 &&
    g7 === 0x254
  )
    return 'metadata'; // AWS's IPv6 metadata endpoint
  if ((g0 & 0xfe00) === 0xfc00) return 'private'; // unique local fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  return 'public';
}

/**
 * Classifies a URL's hostname as WHATWG URL gives it (`127.0.0.1`, `[::1]`, `example.com`).
 * Names are public except the few that always mean this machine or a metadata service.
 */
export function classifyHost(hostname: string): AddressKind {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[') && host.endsWith(']')) {
    const groups = parseIpv6(host.slice(1, -1));
    return groups ? classifyIpv6(groups) : 'reserved';
  }
  const four = parseIpv4(host);
  if (four !== undefined) return classifyIpv4(four);
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  if (
    host === 'metadata' ||
    host === 'metadata.google.internal' ||
    host === 'instance-data' ||
    host === 'instance-data.ec2.internal'
  )
    return 'metadata';
  return 'public';
}

// IPv4 and IPv6 addresses and CIDR ranges, read as Unleash's Node client reads them (the
// ip-address package): IPv4 in dotted decimal without leading zeros, an optional "/0".."/32";
// IPv6 with "::" compression, an embedded IPv4 tail, an optional zone and "/0".."/128".

export interface Ip {
  v6: boolean;
  /** The address as 32-bit words, most significant first: 1 for IPv4, 4 for IPv6. */
  words: number[];
  /** The prefix length: 32 or 128 for a single address. */
  prefix: number;
}

const V4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
const V4_PREFIX = /\/(\d{1,2})$/;
const V6_PREFIX = /\/(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function v4Word(text: string): number | undefined {
  const m = V4.exec(text);
  if (!m) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** The address and its prefix length ("/n" at the end, at most max; max when absent). */
function splitPrefix(text: string, re: RegExp, max: number): { address: string; prefix: number } | undefined {
  const p = re.exec(text);
  if (!p) return { address: text, prefix: max };
  const prefix = Number(p[1]);
  return prefix > max ? undefined : { address: text.slice(0, p.index), prefix };
}

export function parseIPv4(text: string): Ip | undefined {
  const split = splitPrefix(text, V4_PREFIX, 32);
  if (!split) return undefined;
  const { address, prefix } = split;
  const word = v4Word(address);
  return word === undefined ? undefined : { v6: false, words: [word], prefix };
}

export function parseIPv6(text: string): Ip | undefined {
  const split = splitPrefix(text, V6_PREFIX, 128);
  if (!split) return undefined;
  const prefix = split.prefix;
  let address = split.address;
  const zone = address.indexOf('%');
  if (zone >= 0) {
    if (zone === address.length - 1) return undefined;
    address = address.slice(0, zone);
  }
  const groups: number[] = [];
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const parseSide = (side: string, last: boolean): number[] | undefined => {
    if (side === '') return [];
    const parts = side.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (last && i === parts.length - 1 && part.includes('.')) {
        const w = v4Word(part);
        if (w === undefined) return undefined;
        out.push(w >>> 16, w & 0xffff);
      } else if (HEX_GROUP.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  if (halves.length === 2) {
    const left = parseSide(halves[0] as string, false);
    const right = parseSide(halves[1] as string, true);
    if (!left || !right || left.length + right.length > 7) return undefined;
    groups.push(...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right);
  } else {
    const all = parseSide(address, true);
    if (!all || all.length !== 8) return undefined;
    groups.push(...all);
  }
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push((((groups[i] as number) << 16) | (groups[i + 1] as number)) >>> 0);
  return { v6: true, words, prefix };
}

export function parseIp(text: string): Ip | undefined {
  return parseIPv4(text) ?? parseIPv6(text);
}

/** Whether address (its own prefix at least the range's) lies in range, or equals it. */
export function inRange(address: Ip, range: Ip): boolean {
  if (address.v6 !== range.v6) return false;
  const n = address.words.length;
  let same = true;
  for (let i = 0; i < n; i++) if (address.words[i] !== range.words[i]) same = false;
  if (same) return true;
  if (address.prefix < range.prefix) return false;
  let bits = range.prefix;
  for (let i = 0; i < n && bits > 0; i++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    if (((address.words[i] as number) & mask) >>> 0 !== ((range.words[i] as number) & mask) >>> 0) return false;
  }
  return true;
}

// Encoded messages as templates: the bytes of a message whose strings name things by
// placeholders, cut into constant runs, string holes and the length-delimited parts around
// the holes, so that the same message for other names is the constant bytes, the strings
// with the names put in, and the enclosing lengths written anew — no object built, checked
// or walked. xds/translate.ts encodes a group's resources once per shape (all groups alike
// but for their names) with placeholder names and instantiates the rest (groupTemplates).
//
// The template is cut by reading the encoded bytes against the message's descriptor: a
// string field whose text holds a placeholder becomes a hole; a message field, a map entry,
// or a packed google.protobuf.Any's `value` (read as the message its type_url names) that
// holds a hole becomes a part whose length is written at instantiation; everything else is
// copied as it is. A template whose constant bytes still hold a placeholder (a name in a
// bytes field, say) is refused: the caller encodes such messages the ordinary way.
import protobuf from 'protobufjs';

/** A string field's text: constant pieces and name indexes (into `instantiate`'s `names`). */
interface Hole {
  kind: 'hole';
  /** constant text (UTF-8) and name indexes */
  segments: readonly (Buffer | number)[];
}
/** A length-delimited part holding a hole: its length is written at instantiation. */
interface Part {
  kind: 'part';
  items: readonly Item[];
}
/** Bytes copied as they are. */
interface Const {
  kind: 'const';
  bytes: Buffer;
}
type Item = Const | Hole | Part;

/** A message's encoding with its names as holes. */
export interface MessageTemplate {
  /** how many names it takes */
  readonly names: number;
  /** the cut template as instructions, last first (see `compile`; the cut itself is not kept) */
  readonly program: Program;
}

/**
 * Placeholder names: `names(n)` are n distinct DNS labels that sort as their index does,
 * with a per-process random stem no configuration can hold by chance.
 */
export class Placeholders {
  readonly stem = `zq${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
  private readonly pattern = new RegExp(`${this.stem}(\\d{4})z`, 'g');
  static readonly MAX = 10_000;
  name(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= Placeholders.MAX) throw new RangeError(`placeholder ${i}`);
    return `${this.stem}${String(i).padStart(4, '0')}z`;
  }
  /** `text` cut at its placeholders (null: it holds none). */
  segments(text: string): (string | number)[] | null {
    if (!text.includes(this.stem)) return null;
    const out: (string | number)[] = [];
    let last = 0;
    for (const m of text.matchAll(this.pattern)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(Number(m[1]));
      last = m.index + m[0].length;
    }
    if (last === 0 && out.length === 0) return null;
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
}

class Refused extends Error {}

function readVarint(b: Uint8Array, pos: { p: number }): number {
  let x = 0;
  let shift = 0;
  for (;;) {
    if (pos.p >= b.length) throw new Refused('truncated varint');
    const c = b[pos.p++]!;
    x += (c & 127) * 2 ** shift;
    if (c < 128) return x;
    shift += 7;
    if (shift > 63) throw new Refused('varint too long');
  }
}

/** What a length-delimited field holds, by field number. */
type Resolve = (id: number) => FieldKind | null;
type MessageKind = { kind: 'message'; resolve: Resolve; isAny: boolean };
type FieldKind = MessageKind | { kind: 'string' } | { kind: 'any-value' };
type Lookup = (typeUrl: string) => protobuf.Type | null;

const ANY = '.google.protobuf.Any';
const STRING: FieldKind = { kind: 'string' };
const ANY_VALUE: FieldKind = { kind: 'any-value' };

// per message type, made once (protobufjs's fullName walks the parents on every read)
const messages = new WeakMap<protobuf.Type, MessageKind>();

function messageOf(type: protobuf.Type): MessageKind {
  let m = messages.get(type);
  if (!m) {
    const byId = new Map<number, FieldKind | null>();
    const isAny = type.fullName === ANY;
    const resolve: Resolve = (id) => {
      let k = byId.get(id);
      if (k === undefined) {
        k = fieldKind(type, id, isAny);
        byId.set(id, k);
      }
      return k;
    };
    m = { kind: 'message', resolve, isAny };
    messages.set(type, m);
  }
  return m;
}

function fieldKind(type: protobuf.Type, id: number, isAny: boolean): FieldKind | null {
  if (isAny && id === 2) return ANY_VALUE;
  const f = type.fieldsById[id];
  if (!f) return null;
  f.resolve();
  if (f instanceof protobuf.MapField) {
    // a map entry: key 1, value 2
    const value = f.resolvedType;
    const key = f.keyType === 'string' ? STRING : null;
    const val = value instanceof protobuf.Type ? messageOf(value) : f.type === 'string' ? STRING : null;
    return { kind: 'message', resolve: (eid) => (eid === 1 ? key : eid === 2 ? val : null), isAny: false };
  }
  if (f.resolvedType instanceof protobuf.Type) return messageOf(f.resolvedType);
  return f.type === 'string' ? STRING : null;
}

/**
 * Cuts `bytes` (an encoded `type`) into a template of the names `placeholders` stands for;
 * null when it cannot be one (a placeholder outside a string field, bytes that do not read
 * as `type`). `lookup` resolves a packed Any's type URL to its message type.
 */
export function cutTemplate(
  type: protobuf.Type,
  bytes: Uint8Array,
  placeholders: Placeholders,
  lookup: Lookup,
): MessageTemplate | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let names = 0;
  const cut = (resolve: Resolve, start: number, end: number, isAny: boolean): Item[] => {
    const items: Item[] = [];
    let constStart = start;
    const pos = { p: start };
    let typeUrl: string | null = null;
    const flush = (to: number) => {
      if (to > constStart) items.push({ kind: 'const', bytes: buf.subarray(constStart, to) });
    };
    while (pos.p < end) {
      const tag = readVarint(buf, pos);
      const id = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) readVarint(buf, pos);
      else if (wire === 1) pos.p += 8;
      else if (wire === 5) pos.p += 4;
      else if (wire === 2) {
        const lenAt = pos.p;
        const len = readVarint(buf, pos);
        const from = pos.p;
        const to = from + len;
        if (to > end) throw new Refused('length past the end');
        pos.p = to;
        const what = resolve(id);
        let item: Item | null = null;
        if (what?.kind === 'string') {
          const text = buf.toString('utf8', from, to);
          if (isAny && id === 1) typeUrl = text;
          const segments = placeholders.segments(text);
          if (segments) {
            item = { kind: 'hole', segments: segments.map((x) => (typeof x === 'number' ? x : Buffer.from(x, 'utf8'))) };
            for (const s of segments) if (typeof s === 'number') names = Math.max(names, s + 1);
          }
        } else if (what?.kind === 'message' || what?.kind === 'any-value') {
          // a packed Any's payload is read as the message its type URL (written first) names
          const anyType = what.kind === 'any-value' && typeUrl !== null ? lookup(typeUrl) : null;
          const inner = what.kind === 'message' ? what : anyType ? messageOf(anyType) : null;
          if (inner) {
            const parts = cut(inner.resolve, from, to, inner.isAny);
            if (parts.some((x) => x.kind !== 'const')) item = { kind: 'part', items: parts };
          }
        }
        if (item) {
          flush(lenAt);
          items.push(item);
          constStart = to;
        }
      } else throw new Refused(`wire type ${wire}`);
      if (pos.p > end) throw new Refused('field past the end');
    }
    flush(end);
    return items;
  };
  let items: Item[];
  try {
    const root = messageOf(type);
    items = cut(root.resolve, 0, buf.length, root.isAny);
  } catch (err) {
    if (err instanceof Refused) return null;
    throw err;
  }
  // a placeholder left in the constant bytes (not in a string field) cannot be filled in
  const stem = Buffer.from(placeholders.stem);
  const clean = (list: readonly Item[]): boolean =>
    list.every((x) => (x.kind === 'const' ? !x.bytes.includes(stem) : x.kind === 'hole' || clean(x.items)));
  if (!clean(items)) return null;
  const merged = merge(items);
  const program = compile(merged, names);
  // instantiate keeps the open parts' ends in a fixed stack
  if (program.depth > MAX_DEPTH) return null;
  return { names, program };
}

/** Adjacent constant runs joined. */
function merge(items: readonly Item[]): Item[] {
  const out: Item[] = [];
  for (const x of items) {
    const y: Item = x.kind === 'part' ? { kind: 'part', items: merge(x.items) } : x;
    const last = out[out.length - 1];
    if (y.kind === 'const' && last?.kind === 'const') out[out.length - 1] = { kind: 'const', bytes: Buffer.concat([last.bytes, y.bytes]) };
    else out.push(y);
  }
  return out;
}

/** Names to fill in, as their UTF-8 bytes (made once for all of a group's templates). */
export type NameBytes = readonly Buffer[];
export const nameBytes = (names: readonly string[]): NameBytes => names.map((n) => Buffer.from(n, 'utf8'));

/** Where instances are written: `n` bytes of a buffer. */
export type Allocate = (n: number) => Buffer;

/**
 * An allocator that carves instances out of shared chunks, for a pass that fills in
 * many: one allocation per chunk instead of one per message. A chunk stays alive while any
 * message in it does, so chunks start small and double (at most 1 MiB): a pass that
 * writes little holds little more than it wrote.
 */
export function chunkAllocator(): Allocate {
  let chunk = Buffer.alloc(0);
  let used = 0;
  let next = 16 * 1024;
  return (n) => {
    if (used + n > chunk.length) {
      chunk = Buffer.allocUnsafeSlow(Math.max(n, next));
      used = 0;
      next = Math.min(next * 2, 1024 * 1024);
    }
    const out = chunk.subarray(used, used + n);
    used += n;
    return out;
  };
}

const varintSize = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

// An instance is written back to front, as some protobuf encoders do: a length-delimited
// part's content is written before its length, so every length is known when it is
// written, in one pass with no measuring and no moving. The template is compiled to that
// order once: instructions in an Int32Array over one pool of its constant bytes.
const CONST = 0; // CONST i: constant bytes i
const NAME = 1; // NAME i: name i's bytes
const END = 2; // END: the end of a length-delimited part (its start is met later)
const START = 3; // START: the part's start: its length goes in front

interface Program {
  ops: Int32Array;
  /** the constant runs (views of one pool) */
  consts: Uint8Array[];
  /** an instance's size at most, but for its names: constant bytes and 5 per length */
  fixed: number;
  /** how often each name is written */
  uses: Int32Array;
  /** the deepest nesting of length-delimited parts */
  depth: number;
}

function compile(items: readonly Item[], names: number): Program {
  const ops: number[] = [];
  const pool: Buffer[] = [];
  let poolSize = 0;
  const starts: number[] = [];
  let lengths = 0;
  const uses = new Int32Array(names);
  let depth = 0;
  let deepest = 0;
  const constant = (b: Buffer) => {
    ops.push(CONST, pool.length);
    starts.push(poolSize);
    pool.push(b);
    poolSize += b.length;
  };
  const emit = (list: readonly Item[]) => {
    for (let i = list.length - 1; i >= 0; i--) {
      const x = list[i]!;
      if (x.kind === 'const') {
        constant(x.bytes);
        continue;
      }
      ops.push(END);
      lengths += 1;
      deepest = Math.max(deepest, ++depth);
      if (x.kind === 'part') emit(x.items);
      else {
        for (let j = x.segments.length - 1; j >= 0; j--) {
          const seg = x.segments[j]!;
          if (typeof seg === 'number') {
            ops.push(NAME, seg);
            uses[seg]! += 1;
          } else constant(seg);
        }
      }
      ops.push(START);
      depth -= 1;
    }
  };
  emit(items);
  const joined = Buffer.concat(pool);
  const consts = pool.map((b, i) => new Uint8Array(joined.buffer, joined.byteOffset + starts[i]!, b.length));
  return { ops: Int32Array.from(ops), consts, fixed: poolSize + 5 * lengths, uses, depth: deepest };
}

let scratch = Buffer.allocUnsafeSlow(64 * 1024);
const MAX_DEPTH = 256;
const ends = new Int32Array(MAX_DEPTH);

/** The template's message for `names` (index i where placeholder i stood), in a buffer from `allocate`. */
export function instantiate(t: MessageTemplate, names: NameBytes, allocate: Allocate = Buffer.allocUnsafe): Buffer {
  if (names.length < t.names) throw new RangeError(`template takes ${t.names} names, got ${names.length}`);
  const { ops, consts, fixed, uses } = t.program;
  let bound = fixed;
  for (let i = 0; i < uses.length; i++) bound += uses[i]! * names[i]!.length;
  if (scratch.length < bound) scratch = Buffer.allocUnsafeSlow(Math.max(bound, scratch.length * 2));
  const buf = scratch;
  let pos = bound;
  let depth = 0;
  for (let k = 0; k < ops.length; ) {
    const op = ops[k]!;
    if (op === CONST) {
      const bytes = consts[ops[k + 1]!]!;
      k += 2;
      const len = bytes.length;
      pos -= len;
      // (TypedArray set, not Buffer copy: Node's copy goes through JS and a subarray each call)
      if (len > 8) buf.set(bytes, pos);
      else for (let i = 0; i < len; i++) buf[pos + i] = bytes[i]!;
    } else if (op === NAME) {
      const name = names[ops[k + 1]!]!;
      k += 2;
      const len = name.length;
      pos -= len;
      if (len > 32) buf.set(name, pos);
      else for (let i = 0; i < len; i++) buf[pos + i] = name[i]!;
    } else if (op === END) {
      k += 1;
      ends[depth++] = pos;
    } else {
      k += 1;
      let len = ends[--depth]! - pos;
      pos -= varintSize(len);
      let p = pos;
      while (len > 127) {
        buf[p++] = (len & 127) | 128;
        len >>>= 7;
      }
      buf[p] = len;
    }
  }
  const out = allocate(bound - pos);
  out.set(buf.subarray(pos, bound));
  return out;
}

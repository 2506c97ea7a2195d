// One-pass strict encoding of plain objects (the protos' snake_case shape) to protobuf bytes:
// each field is checked against the message descriptor and written straight to a
// protobufjs Writer, with no intermediate message objects (protobufjs `fromObject`) and no
// second walk. What xDS translation of thousands of resources spends its time on.
//
// Bytes go straight into one growing buffer (no per-write objects): a length-delimited
// field reserves one byte for its length and moves its content up in the rare case the
// length needs more.
//
// Same bytes as protobufjs (`type.encode(type.fromObject(o))`): fields in field-number
// order, map entries in the object's key order, proto3 numeric repeated fields packed.
// A frozen value (message, map or repeated field) is encoded once and its bytes reused each
// time the same object is met again, for the same field: translation builds its constants
// (retry policy, health checks, per-version filter overrides, ...) once, deeply frozen, and
// thousands of resources embed them. A frozen value is taken as deeply immutable: freeze
// such values whole (xds/translate.ts `constant`), never only their top level.
//
// Strict the same way as proto/envoy.ts checkFields: an unknown field, an enum string
// that is not a value, a scalar of the wrong kind, or two members of one oneof set all
// throw — the caller (proto/envoy.ts) re-runs the full check for the exact error and path.
import protobuf from 'protobufjs';

/** Thrown on anything the encoder will not write; proto/envoy.ts turns it into an EnvoyProtoError. */
export class StrictEncodeRefused extends Error {}
const refuse = (what: string) => new StrictEncodeRefused(what);

/** A protobuf writer over one growing buffer. */
class BufWriter {
  buf = Buffer.allocUnsafe(64 * 1024);
  pos = 0;
  private readonly marks: number[] = [];
  /** Starts over (the buffer is kept: one writer serves every encode). */
  reset(): this {
    this.pos = 0;
    this.marks.length = 0;
    return this;
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  uint32(v: number): this {
    this.ensure(5);
    let x = v >>> 0;
    while (x > 127) {
      this.buf[this.pos++] = (x & 127) | 128;
      x >>>= 7;
    }
    this.buf[this.pos++] = x;
    return this;
  }
  int32(v: number): this {
    if (v >= 0) return this.uint32(v);
    return this.raw(protobuf.Writer.create().int32(v).finish());
  }
  sint32(v: number): this {
    return this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }
  fixed32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  sfixed32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.pos);
    this.pos += 4;
    return this;
  }
  float(v: number): this {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
    return this;
  }
  double(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
    return this;
  }
  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }
  /** 64-bit integers: a non-negative safe integer directly, anything else through protobufjs. */
  long(t: string, v: unknown): this {
    if ((t === 'int64' || t === 'uint64') && typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) {
      this.ensure(10);
      let x = v;
      while (x > 127) {
        this.buf[this.pos++] = (x % 128) | 128;
        x = Math.floor(x / 128);
      }
      this.buf[this.pos++] = x;
      return this;
    }
    const w = protobuf.Writer.create() as unknown as Record<string, (x: unknown) => protobuf.Writer>;
    return this.raw(w[t]!(v).finish());
  }
  string(v: string): this {
    const n = v.length;
    if (n < 128) {
      // short strings (names, type URLs) are ASCII nearly always: byte per char, no call out
      this.ensure(n + 1);
      const buf = this.buf;
      const start = this.pos;
      buf[start] = n;
      let p = start + 1;
      for (let i = 0; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 128) {
          p = -1;
          break;
        }
        buf[p++] = c;
      }
      if (p !== -1) {
        this.pos = p;
        return this;
      }
    }
    this.fork();
    this.ensure(n * 3);
    this.pos += this.buf.write(v, this.pos, 'utf8');
    return this.ldelim();
  }
  bytes(v: Uint8Array | string): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'base64') : v;
    this.uint32(b.length);
    return this.raw(b);
  }
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** Starts a length-delimited part: one byte kept for its length. */
  fork(): this {
    this.ensure(1);
    this.marks.push(this.pos);
    this.pos += 1;
    return this;
  }
  /** Ends it: writes the length, moving the content up when the length takes more than one byte. */
  ldelim(): this {
    const mark = this.marks.pop()!;
    const len = this.pos - mark - 1;
    if (len < 128) {
      this.buf[mark] = len;
      return this;
    }
    let extra = 0;
    for (let x = len >>> 7; x > 0; x >>>= 7) extra++;
    this.ensure(extra);
    this.buf.copyWithin(mark + 1 + extra, mark + 1, this.pos);
    let p = mark;
    let x = len;
    while (x > 127) {
      this.buf[p++] = (x & 127) | 128;
      x >>>= 7;
    }
    this.buf[p] = x;
    this.pos += extra;
    return this;
  }
  finish(): Uint8Array {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

type Write = (w: BufWriter, value: unknown) => void;
const shared = new BufWriter();

interface FieldPlan {
  id: number;
  /** the oneof (of two members or more) the field is in, for the one-member check */
  oneof: string | null;
  /** writes one field occurrence (tag included) for a present value */
  write: (w: BufWriter, value: unknown) => void;
}

interface TypePlan {
  fields: Map<string, FieldPlan>;
  /** oneof names (their discriminator string may appear as a key) and their members */
  oneofs: Map<string, string[]>;
  isAny: boolean;
}

const WIRE: Record<string, number> = {
  double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5,
  int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function scalarWriter(t: string): Write {
  switch (t) {
    case 'string':
      return (w, v) => {
        if (typeof v !== 'string') throw refuse(t);
        w.string(v);
      };
    case 'bool':
      return (w, v) => {
        if (typeof v !== 'boolean') throw refuse(t);
        w.bool(v);
      };
    case 'bytes':
      return (w, v) => {
        if (!(v instanceof Uint8Array) && typeof v !== 'string') throw refuse(t);
        w.bytes(v);
      };
    case 'double':
    case 'float':
      return (w, v) => {
        if (typeof v !== 'number') throw refuse(t);
        if (t === 'double') w.double(v);
        else w.float(v);
      };
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return (w, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw refuse(t);
        w[t](v);
      };
    case 'uint32':
    case 'fixed32':
      return (w, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw refuse(t);
        w[t](v);
      };
    default:
      // 64-bit integers: a safe integer, a decimal string, or a Long
      return (w, v) => {
        const ok =
          (typeof v === 'number' && Number.isInteger(v)) ||
          (typeof v === 'string' && /^-?\d+$/.test(v)) ||
          (isPlainObject(v) && 'low' in v && 'high' in v);
        if (!ok) throw refuse(t);
        w.long(t, v);
      };
  }
}

function enumWriter(e: protobuf.Enum): Write {
  const numbers = new Set(Object.values(e.values));
  return (w, v) => {
    if (typeof v === 'string' && Object.hasOwn(e.values, v)) w.int32(e.values[v]!);
    else if (typeof v === 'number' && numbers.has(v)) w.int32(v);
    else throw refuse(`enum ${e.name}`);
  };
}

const plans = new WeakMap<protobuf.Type, TypePlan>();
let anyType: protobuf.Type | undefined;

function planOf(type: protobuf.Type): TypePlan {
  const hit = plans.get(type);
  if (hit) return hit;
  anyType ??= type.root.lookupType('.google.protobuf.Any');
  const plan: TypePlan = { fields: new Map(), oneofs: new Map(), isAny: type === anyType };
  // registered before the fields are planned: recursive messages refer to it
  plans.set(type, plan);
  for (const o of type.oneofsArray) plan.oneofs.set(o.name, [...o.oneof]);
  for (const f of type.fieldsArray) {
    f.resolve();
    const oneof = f.partOf && f.partOf.oneof.length > 1 ? f.partOf.name : null;
    plan.fields.set(f.name, { id: f.id, oneof, write: fieldWriter(f) });
  }
  return plan;
}

/** Writes one value of the field's element type (no tag). Messages are length-delimited by the caller. */
function elementWriter(f: protobuf.Field): { write: Write; wire: number; message: protobuf.Type | null } {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) {
    let plan: TypePlan | undefined;
    return { write: (w, v) => writeMessage((plan ??= planOf(rt)), rt, v, w), wire: 2, message: rt };
  }
  if (rt instanceof protobuf.Enum) return { write: enumWriter(rt), wire: 0, message: null };
  return { write: scalarWriter(f.type), wire: WIRE[f.type] ?? 2, message: null };
}

/** The field writer; a frozen value (map, repeated field, message) is memoized whole. */
function fieldWriter(f: protobuf.Field): FieldPlan['write'] {
  // a single message field's writer memoizes already (plainFieldWriter `single`)
  return f.repeated || f instanceof protobuf.MapField ? memoFrozen(plainFieldWriter(f)) : plainFieldWriter(f);
}

/**
 * `write`, with frozen values' encodings (tag included) kept per object: checked and
 * encoded the first time, copied after.
 */
function memoFrozen(write: Write): Write {
  const memo = new WeakMap<object, Buffer>();
  return (w, v) => {
    if (typeof v !== 'object' || v === null || !Object.isFrozen(v)) return write(w, v);
    const hit = memo.get(v);
    if (hit) {
      w.raw(hit);
      return;
    }
    const start = w.pos;
    write(w, v);
    // final once written: an enclosing length moves these bytes later, never changes them
    memo.set(v, Buffer.from(w.buf.subarray(start, w.pos)));
  };
}

function plainFieldWriter(f: protobuf.Field): FieldPlan['write'] {
  const el = elementWriter(f);
  const tag = (f.id << 3) | el.wire;
  // an element of a repeated message field may be frozen on its own (a constant route)
  const single: Write = el.message
    ? memoFrozen((w, v) => {
        w.uint32((f.id << 3) | 2).fork();
        el.write(w, v);
        w.ldelim();
      })
    : (w, v) => {
        w.uint32(tag);
        el.write(w, v);
      };
  if (f instanceof protobuf.MapField) {
    const keyWire = WIRE[f.keyType] ?? 2;
    const keyWrite = scalarWriter(f.keyType);
    return (w, v) => {
      if (!isPlainObject(v)) throw refuse('map');
      for (const k of Object.keys(v)) {
        const mv = v[k];
        w.uint32((f.id << 3) | 2).fork().uint32((1 << 3) | keyWire);
        keyWrite(w, f.keyType === 'string' ? k : Number.isNaN(Number(k)) ? k : Number(k));
        if (el.message) {
          w.uint32((2 << 3) | 2).fork();
          el.write(w, mv);
          w.ldelim();
        } else {
          w.uint32((2 << 3) | el.wire);
          el.write(w, mv);
        }
        w.ldelim();
      }
    };
  }
  if (f.repeated) {
    if (f.packed && el.wire !== 2) {
      return (w, v) => {
        if (!Array.isArray(v)) throw refuse('repeated');
        if (v.length === 0) return;
        w.uint32((f.id << 3) | 2).fork();
        for (const x of v) el.write(w, x);
        w.ldelim();
      };
    }
    return (w, v) => {
      if (!Array.isArray(v)) throw refuse('repeated');
      for (const x of v) single(w, x);
    };
  }
  return single;
}

function writeMessage(plan: TypePlan, type: protobuf.Type, value: unknown, w: BufWriter): void {
  if (!isPlainObject(value)) throw refuse(`message ${type.name}`);
  if (plan.isAny) {
    // a nested Any must already be packed, so its payload was checked too
    for (const k in value) if (k !== 'type_url' && k !== 'value') throw refuse('Any field');
    if (typeof value.type_url !== 'string' || !(value.value instanceof Uint8Array)) throw refuse('Any not packed');
  }
  // first pass: check every key; see whether the fields come in field-number order already
  let oneof: string | null = null;
  let oneofs: string[] | undefined;
  let last = -1;
  let ordered = true;
  for (const k in value) {
    const v = value[k];
    if (v === undefined) continue;
    const f = plan.fields.get(k);
    if (!f) {
      const members = plan.oneofs.get(k);
      if (members && typeof v === 'string' && members.includes(v)) continue;
      throw refuse(`unknown field ${k}`);
    }
    if (v === null) continue;
    if (f.oneof !== null) {
      if (oneof === null) oneof = f.oneof;
      else {
        oneofs ??= [oneof];
        if (oneofs.includes(f.oneof)) throw refuse(`oneof ${f.oneof}`);
        oneofs.push(f.oneof);
      }
    }
    if (f.id < last) ordered = false;
    last = f.id;
  }
  if (ordered) {
    for (const k in value) {
      const v = value[k];
      if (v === undefined || v === null) continue;
      plan.fields.get(k)?.write(w, v);
    }
    return;
  }
  const present: [FieldPlan, unknown][] = [];
  for (const k in value) {
    const v = value[k];
    const f = plan.fields.get(k);
    if (f && v !== undefined && v !== null) present.push([f, v]);
  }
  present.sort((a, b) => a[0].id - b[0].id);
  for (const [f, v] of present) f.write(w, v);
}

/** `object` as `type`, checked and encoded in one pass; throws StrictEncodeRefused on anything unfit. */
export function strictEncode(type: protobuf.Type, object: object): Uint8Array {
  // encodes do not nest (an Any inside is already bytes), so one writer serves them all
  const w = shared.reset();
  writeMessage(planOf(type), type, object, w);
  return w.finish();
}

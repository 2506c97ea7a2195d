// Envoy's own validation rules, checked on what Sluice pushes: the protoc-gen-validate
// annotations (`(validate.rules)` on fields, `(validate.required)` on oneofs) that Envoy
// enforces when it accepts a resource, read from the loaded protos' options and applied to
// an encoded message — nested messages, repeated and map entries, wrappers, and every
// google.protobuf.Any whose type is loaded (typed_config, typed_per_filter_config, …) are
// walked too. A rule kind this checker does not know is reported as a violation rather than
// passed over, so a new annotation cannot slip through unchecked.
import protobuf from 'protobufjs';
import { lookupType } from './envoy.ts';

type Rules = Record<string, unknown>;
type Obj = Record<string, unknown>;

const TYPE_PREFIX = 'type.googleapis.com/';
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, bytes: Buffer, defaults: false, oneofs: false };

const WRAPPERS: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};
const NUMERIC = new Set(['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

/** The parsed `(validate.rules)` of a field (protobufjs keeps options as parsed objects). */
function rulesOf(obj: protobuf.ReflectionObject, option: string): unknown {
  // typed as a record by protobufjs, but an array of { option: value } at run time
  const parsed = obj.parsedOptions as unknown as Obj[] | undefined;
  for (const o of parsed ?? []) if (option in o) return o[option];
  return undefined;
}

/** A repeated option value (a single value when the proto lists one). */
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

const isEmpty = (v: unknown) => v === undefined || v === null || v === '' || v === 0 || v === '0' || v === false || (Array.isArray(v) && v.length === 0);

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (v && typeof v === 'object') {
    // a Duration bound {seconds, nanos} in seconds
    const d = v as { seconds?: unknown; nanos?: unknown };
    return Number(d.seconds ?? 0) + Number(d.nanos ?? 0) / 1e9;
  }
  return 0;
}

function checkBounds(path: string, value: number, r: Rules, out: string[]): void {
  const has = (k: string) => k in r && r[k] !== undefined;
  if (has('const') && value !== num(r.const)) out.push(`${path}: must equal ${num(r.const)}`);
  if (has('lt') && !(value < num(r.lt))) out.push(`${path}: must be < ${num(r.lt)}`);
  if (has('lte') && !(value <= num(r.lte))) out.push(`${path}: must be <= ${num(r.lte)}`);
  if (has('gt') && !(value > num(r.gt))) out.push(`${path}: must be > ${num(r.gt)}`);
  if (has('gte') && !(value >= num(r.gte))) out.push(`${path}: must be >= ${num(r.gte)}`);
  if (has('in') && !listOf(r.in).map(num).includes(value)) out.push(`${path}: must be one of ${JSON.stringify(r.in)}`);
  if (has('not_in') && listOf(r.not_in).map(num).includes(value)) out.push(`${path}: must not be one of ${JSON.stringify(r.not_in)}`);
}

const KNOWN_NUMERIC = new Set(['const', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in', 'ignore_empty']);
const KNOWN_STRING = new Set([
  'const', 'len', 'min_len', 'max_len', 'len_bytes', 'min_bytes', 'max_bytes', 'pattern', 'prefix', 'suffix', 'contains',
  'not_contains', 'in', 'not_in', 'well_known_regex', 'strict', 'ignore_empty', 'address', 'hostname', 'ip', 'ipv4', 'ipv6', 'uri',
]);

// Envoy's header checks (validate.proto's KnownRegex, strict mode)
const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex
const NOT_NUL_CR_LF = /^[^\u0000\n\r]*$/;

function checkString(path: string, s: string, r: Rules, out: string[]): void {
  if (r.ignore_empty && s === '') return;
  const chars = [...s].length;
  const bytes = Buffer.byteLength(s);
  const n = (k: string) => Number(r[k]);
  if ('const' in r && s !== r.const) out.push(`${path}: must equal ${JSON.stringify(r.const)}`);
  if ('len' in r && chars !== n('len')) out.push(`${path}: must have ${n('len')} characters`);
  if ('min_len' in r && chars < n('min_len')) out.push(`${path}: must have at least ${n('min_len')} characters`);
  if ('max_len' in r && chars > n('max_len')) out.push(`${path}: must have at most ${n('max_len')} characters`);
  if ('len_bytes' in r && bytes !== n('len_bytes')) out.push(`${path}: must have ${n('len_bytes')} bytes`);
  if ('min_bytes' in r && bytes < n('min_bytes')) out.push(`${path}: must have at least ${n('min_bytes')} bytes`);
  if ('max_bytes' in r && bytes > n('max_bytes')) out.push(`${path}: must have at most ${n('max_bytes')} bytes`);
  // RE2 patterns as Envoy writes them are valid JavaScript regexes
  if ('pattern' in r && !new RegExp(String(r.pattern), 'u').test(s)) out.push(`${path}: must match ${String(r.pattern)}`);
  if ('prefix' in r && !s.startsWith(String(r.prefix))) out.push(`${path}: must start with ${JSON.stringify(r.prefix)}`);
  if ('suffix' in r && !s.endsWith(String(r.suffix))) out.push(`${path}: must end with ${JSON.stringify(r.suffix)}`);
  if ('contains' in r && !s.includes(String(r.contains))) out.push(`${path}: must contain ${JSON.stringify(r.contains)}`);
  if ('not_contains' in r && s.includes(String(r.not_contains))) out.push(`${path}: must not contain ${JSON.stringify(r.not_contains)}`);
  if ('in' in r && !listOf(r.in).includes(s)) out.push(`${path}: must be one of ${JSON.stringify(r.in)}`);
  if ('not_in' in r && listOf(r.not_in).includes(s)) out.push(`${path}: must not be one of ${JSON.stringify(r.not_in)}`);
  if ('well_known_regex' in r) {
    const strict = r.strict !== false;
    const kind = String(r.well_known_regex);
    const re = !strict ? NOT_NUL_CR_LF : kind === 'HTTP_HEADER_NAME' ? HEADER_NAME : kind === 'HTTP_HEADER_VALUE' ? HEADER_VALUE : null;
    if (!re) out.push(`${path}: well_known_regex ${kind} is not checked`);
    else if (s !== '' && !re.test(s)) out.push(`${path}: must be a valid ${kind}`);
  }
  for (const k of ['address', 'hostname', 'ip', 'ipv4', 'ipv6', 'uri']) {
    if (r[k]) {
      if (k === 'uri' && !URL.canParse(s)) out.push(`${path}: must be a URI`);
      else if (k !== 'uri' && !/^[0-9A-Za-z.:-]+$/.test(s)) out.push(`${path}: must be a ${k}`);
    }
  }
  for (const k of Object.keys(r)) if (!KNOWN_STRING.has(k)) out.push(`${path}: string rule ${k} is not checked`);
}

/** Scalar/wrapped/message rules of one (non-repeated) value. */
function checkValue(path: string, field: protobuf.Field, value: unknown, rules: Rules | undefined, out: string[]): void {
  const kind = rules ? Object.keys(rules)[0] : undefined;
  const r = (kind ? rules![kind] : undefined) as Rules | undefined;
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    const typeName = resolved.fullName.slice(1);
    if (kind === 'message') {
      if (r?.required && value == null) out.push(`${path}: is required`);
      if (r?.skip) return;
    } else if (kind === 'duration' || kind === 'timestamp' || kind === 'any') {
      if (r?.required && value == null) out.push(`${path}: is required`);
      if (value != null && kind === 'duration') {
        checkBounds(path, num(value), Object.fromEntries(Object.entries(r ?? {}).filter(([k]) => k !== 'required')), out);
      }
      if (value != null && kind === 'any') {
        const url = String((value as Obj).type_url ?? '');
        if (r?.in && !listOf(r.in).includes(url)) out.push(`${path}: type must be one of ${JSON.stringify(r.in)}`);
        if (r?.not_in && listOf(r.not_in).includes(url)) out.push(`${path}: type must not be one of ${JSON.stringify(r.not_in)}`);
      }
      if (value != null && kind === 'timestamp') out.push(`${path}: timestamp rules are not checked`);
    } else if (kind && WRAPPERS[typeName]) {
      // a wrapper's rules apply to the wrapped value, when set
      if (r?.required && value == null) out.push(`${path}: is required`);
      if (value != null) checkScalar(path, WRAPPERS[typeName]!, (value as Obj).value, rules!, out);
    } else if (kind) {
      out.push(`${path}: ${kind} rules on a ${typeName} are not checked`);
    }
    if (value != null) out.push(...violationsOf(resolved, value as Obj, path));
    return;
  }
  if (kind === 'enum' && resolved instanceof protobuf.Enum) return checkEnum(path, resolved, value, rules!.enum as Rules, out);
  if (kind) checkScalar(path, field.type, value, rules!, out);
}

/** Enum rules; values arrive as names (a number when the proto does not define it). */
function checkEnum(path: string, e: protobuf.Enum, value: unknown, r: Rules, out: string[]): void {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? e.values[value] : 0;
  if (r.defined_only && (n === undefined || !Object.values(e.values).includes(n))) out.push(`${path}: ${String(value)} is not a defined ${e.name}`);
  const code = n ?? Number.NaN;
  if ('const' in r && code !== Number(r.const)) out.push(`${path}: must be ${String(r.const)}`);
  if ('in' in r && !listOf(r.in).map(Number).includes(code)) out.push(`${path}: must be one of ${JSON.stringify(r.in)}`);
  if ('not_in' in r && listOf(r.not_in).map(Number).includes(code)) out.push(`${path}: must not be one of ${JSON.stringify(r.not_in)}`);
  for (const k of Object.keys(r)) if (!['defined_only', 'const', 'in', 'not_in'].includes(k)) out.push(`${path}: enum rule ${k} is not checked`);
}

function checkScalar(path: string, type: string, value: unknown, rules: Rules, out: string[]): void {
  const kind = Object.keys(rules)[0]!;
  const r = rules[kind] as Rules;
  if (kind === 'string') return checkString(path, typeof value === 'string' ? value : '', r, out);
  if (kind === 'bool') {
    if ('const' in r && Boolean(value) !== r.const) out.push(`${path}: must be ${String(r.const)}`);
    return;
  }
  if (kind === 'bytes') {
    const len = Buffer.isBuffer(value) ? value.length : 0;
    if ('min_len' in r && len < Number(r.min_len)) out.push(`${path}: must have at least ${Number(r.min_len)} bytes`);
    if ('max_len' in r && len > Number(r.max_len)) out.push(`${path}: must have at most ${Number(r.max_len)} bytes`);
    for (const k of Object.keys(r)) if (k !== 'min_len' && k !== 'max_len') out.push(`${path}: bytes rule ${k} is not checked`);
    return;
  }
  if (NUMERIC.has(kind)) {
    if (r.ignore_empty && isEmpty(value)) return;
    checkBounds(path, num(value ?? 0), r, out);
    for (const k of Object.keys(r)) if (!KNOWN_NUMERIC.has(k)) out.push(`${path}: ${kind} rule ${k} is not checked`);
    return;
  }
  out.push(`${path}: ${kind} rules on a ${type} field are not checked`);
}

function unpackAnyValue(any: Obj, path: string, out: string[]): void {
  const url = String(any.type_url ?? '');
  if (!url.startsWith(TYPE_PREFIX)) {
    out.push(`${path}: Any with type_url ${JSON.stringify(url)}`);
    return;
  }
  let type: protobuf.Type;
  try {
    type = lookupType(url);
  } catch {
    out.push(`${path}: Any of type ${url.slice(TYPE_PREFIX.length)}, which is not loaded (cannot be checked)`);
    return;
  }
  const bytes = any.value instanceof Uint8Array ? any.value : new Uint8Array();
  out.push(...violationsOfBytes(type, bytes, `${path}<${type.name}>`));
}

/** Every violation of the PGV rules in `object` (a protobufjs toObject of `type`, longs/enums as strings). */
function violationsOf(type: protobuf.Type, object: Obj, path: string): string[] {
  const out: string[] = [];
  if (rulesOf(type, '(validate.disabled)') === true || rulesOf(type, '(validate.ignored)') === true) return out;
  if (type.fullName === '.google.protobuf.Any') {
    unpackAnyValue(object, path, out);
    return out;
  }
  for (const oneof of type.oneofsArray) {
    if (rulesOf(oneof, '(validate.required)') === true && !oneof.fieldsArray.some((f) => object[f.name] != null)) {
      out.push(`${path || type.name}: one of ${oneof.fieldsArray.map((f) => f.name).join(', ')} is required`);
    }
  }
  for (const field of type.fieldsArray) {
    const fieldPath = path ? `${path}.${field.name}` : field.name;
    const rules = rulesOf(field, '(validate.rules)') as Rules | undefined;
    const value = object[field.name];
    if (field.map) {
      const entries = Object.entries((value as Obj | undefined) ?? {});
      const r = rules?.map as Rules | undefined;
      if (r?.min_pairs !== undefined && entries.length < Number(r.min_pairs)) out.push(`${fieldPath}: needs at least ${Number(r.min_pairs)} entries`);
      if (r?.max_pairs !== undefined && entries.length > Number(r.max_pairs)) out.push(`${fieldPath}: allows at most ${Number(r.max_pairs)} entries`);
      for (const [k, v] of entries) {
        if (r?.keys) checkScalar(`${fieldPath}[${k}] key`, (field as unknown as protobuf.MapField).keyType, k, r.keys as Rules, out);
        checkValue(`${fieldPath}[${k}]`, field, v, r?.values as Rules | undefined, out);
      }
      continue;
    }
    if (field.repeated) {
      const items = (value as unknown[] | undefined) ?? [];
      const r = rules?.repeated as Rules | undefined;
      if (r?.min_items !== undefined && items.length < Number(r.min_items)) out.push(`${fieldPath}: needs at least ${Number(r.min_items)} items`);
      if (r?.max_items !== undefined && items.length > Number(r.max_items)) out.push(`${fieldPath}: allows at most ${Number(r.max_items)} items`);
      if (r?.unique && new Set(items.map((i) => JSON.stringify(i))).size !== items.length) out.push(`${fieldPath}: items must be unique`);
      items.forEach((item, i) => checkValue(`${fieldPath}[${i}]`, field, item, r?.items as Rules | undefined, out));
      continue;
    }
    // a field of an unset oneof member carries no rules to check
    if (field.partOf && value == null) continue;
    checkValue(fieldPath, field, value, rules, out);
  }
  return out;
}

function violationsOfBytes(type: protobuf.Type, bytes: Uint8Array, path: string): string[] {
  const object = type.toObject(type.decode(bytes), TO_OBJECT) as Obj;
  return violationsOf(type, object, path);
}

/**
 * What Envoy's validation would refuse in an encoded message of `typeName` (a
 * google.protobuf.Any is opened when its type is loaded): one line per violation, with
 * the field's path; empty when the message passes.
 */
export function pgvViolations(typeName: string, bytes: Uint8Array): string[] {
  return violationsOfBytes(lookupType(typeName), bytes, '');
}

// Generates the TypeScript SBE codec (codec.ts) from the schema (junction-sbe.xml).
// usage: npm run protocol:generate        (writes src/protocol/codec.ts)
//        node dist/src/protocol/generate.js --check   (exits 1 if codec.ts is out of date)
// Supports what the schema uses: fixed-size primitive fields, fixed-length char and uint8 arrays,
// enums, repeating groups of fixed-size fields, laid out in order with no gaps, and variable-length
// UTF-8 text after the groups (a varData composite with a uint32 length) (SBE 1.0).
// Versions (sinceVersion): a field added later must end its message's block, so an older encoder's
// block is a prefix of today's (a group's entries keep their size: a frame holds as many as ever). The decoder reads such a field only when the block holds
// it (its value is 0 otherwise, which must be valid for its type); the encoder may leave it out, and
// writes the older layout for an older decoder (encodeX(v, at, m, version)).
// Each message's header carries the version its layout dates from, not the schema's, so a decoder
// of an older version still reads every message whose layout it knows.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';

type Primitive = 'char' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';
const SIZE: Record<Primitive, number> = { char: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8 };

interface Enum { name: string; encoding: Primitive; values: [string, number][]; descriptions: Map<number, string>; description?: string }
interface FieldType { kind: 'primitive' | 'chars' | 'bytes' | 'enum' | 'timestamp'; primitive: Primitive; length: number; enumName?: string }
/** optional: added after its message (sinceVersion), so an older block may end before it. */
interface Field { name: string; type: FieldType; offset: number; size: number; since: number; optional: boolean }
interface Group { name: string; fields: Field[]; blockLength: number }
/** Variable-length UTF-8 text (SBE varData): a uint32 length in bytes, then the bytes. */
interface VarData { name: string }
interface Message {
  name: string; id: number; fields: Field[]; blockLength: number; minBlockLength: number; groups: Group[]; data: VarData[]; description?: string;
  /** The version its layout dates from, written in its header. */
  version: number;
}

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

export function parseSchema(xml: string): { id: number; version: number; enums: Enum[]; messages: Message[] } {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false }).parse(xml);
  const schema = doc['sbe:messageSchema'];
  const types = new Map<string, FieldType>();
  const enums: Enum[] = [];
  for (const t of list<Record<string, string>>(schema.types.type)) {
    const length = Number(t.length ?? 1);
    const primitive = t.primitiveType as Primitive;
    // A uint64 UTCTimestamp (nanoseconds) outgrows 2^53: it is a bigint on this side.
    const kind = t.semanticType === 'UTCTimestamp' ? 'timestamp' : length > 1 ? (primitive === 'char' ? 'chars' : 'bytes') : 'primitive';
    types.set(t.name, { kind, primitive, length });
  }
  for (const e of list<Record<string, unknown>>(schema.types.enum)) {
    const valid = list<Record<string, string>>(e.validValue as never);
    const values = valid.map((v) => [v.name, Number(v['#text'])] as [string, number]);
    const descriptions = new Map(valid.filter((v) => v.description).map((v) => [Number(v['#text']), v.description]));
    const encoding = e.encodingType as Primitive;
    enums.push({ name: e.name as string, encoding, values, descriptions, description: e.description as string | undefined });
    types.set(e.name as string, { kind: 'enum', primitive: encoding, length: 1, enumName: e.name as string });
  }
  // A varData composite: its length must be a uint32 (what messageEnd reads) and its bytes UTF-8.
  const varData = new Set<string>();
  for (const c of list<Record<string, unknown>>(schema.types.composite)) {
    const parts = list<Record<string, string>>(c.type as never);
    const data = parts.find((t) => t.name === 'varData');
    if (!data) continue;
    const length = parts.find((t) => t.name === 'length');
    if (length?.primitiveType !== 'uint32') throw new Error(`${c.name}: a varData length must be a uint32`);
    if (data.characterEncoding !== 'UTF-8') throw new Error(`${c.name}: only UTF-8 varData is supported`);
    varData.add(c.name as string);
  }
  const typeOf = (name: string): FieldType => {
    if (types.has(name)) return types.get(name)!;
    if (name in SIZE) return { kind: 'primitive', primitive: name as Primitive, length: 1 };
    throw new Error(`unknown type ${name}`);
  };
  const schemaVersion = Number(schema.version);
  const sinceOf = (x: Record<string, unknown>, where: string): number => {
    const since = Number(x.sinceVersion ?? 0);
    if (!Number.isInteger(since) || since < 0 || since > schemaVersion) throw new Error(`${where}: sinceVersion ${x.sinceVersion} is not a version up to ${schemaVersion}`);
    return since;
  };
  /** A block's fields in order; those newer than the message (`owner`) must come last, oldest first. */
  const layout = (fields: Record<string, string>[], owner: number, where: string): { fields: Field[]; blockLength: number; minBlockLength: number } => {
    let offset = 0;
    let minBlockLength: number | undefined;
    let since = 0;
    const out = fields.map((f) => {
      const type = typeOf(f.type);
      const size = SIZE[type.primitive] * type.length;
      const fieldSince = sinceOf(f, `${where}.${f.name}`);
      const optional = fieldSince > owner;
      if (fieldSince < since) throw new Error(`${where}.${f.name}: a field of version ${fieldSince} after one of version ${since}: later fields go at the end of the block`);
      since = fieldSince;
      if (optional) {
        minBlockLength ??= offset;
        if (type.kind === 'chars' || type.kind === 'bytes') throw new Error(`${where}.${f.name}: a field added in a later version must be a number or an enum`);
        const e = enums.find((x) => x.name === type.enumName);
        if (e && !e.values.some(([, v]) => v === 0)) throw new Error(`${where}.${f.name}: ${e.name} has no value 0, which an older block's missing field reads as`);
      }
      const field = { name: f.name, type, offset, size, since: fieldSince, optional };
      offset += size;
      return field;
    });
    return { fields: out, blockLength: offset, minBlockLength: minBlockLength ?? offset };
  };
  const messages = list<Record<string, unknown>>(schema['sbe:message']).map((m) => {
    const since = sinceOf(m, m.name as string);
    const root = layout(list(m.field as never), since, m.name as string);
    const groups = list<Record<string, unknown>>(m.group as never).map((g) => {
      const { fields, blockLength, minBlockLength } = layout(list(g.field as never), since, `${m.name}.${g.name}`);
      if (minBlockLength !== blockLength) throw new Error(`${m.name}.${g.name}: a group's entries cannot gain a field (each would grow, and a frame hold fewer)`);
      return { name: g.name as string, fields, blockLength };
    });
    const data = list<Record<string, string>>(m.data as never).map((d) => {
      if (!varData.has(d.type)) throw new Error(`${m.name}.${d.name}: ${d.type} is not a varData composite`);
      return { name: d.name };
    });
    // Version 1 is the first: a message unchanged since then says 1.
    const version = Math.max(1, since, ...root.fields.map((f) => f.since), ...groups.flatMap((g) => g.fields.map((f) => f.since)));
    return { name: m.name as string, id: Number(m.id), ...root, groups, data, description: m.description as string | undefined, version };
  });
  return { id: Number(schema.id), version: schemaVersion, enums, messages };
}

function tsType(t: FieldType): string {
  if (t.kind === 'chars') return 'string';
  if (t.kind === 'bytes') return 'Uint8Array';
  if (t.kind === 'enum') return t.enumName!;
  if (t.kind === 'timestamp') return 'bigint';
  return 'number';
}

const SETTER: Record<Primitive, string> = {
  char: 'setUint8', int8: 'setInt8', uint8: 'setUint8', int16: 'setInt16', uint16: 'setUint16', int32: 'setInt32', uint32: 'setUint32', int64: '', uint64: '',
};
const GETTER: Record<Primitive, string> = {
  char: 'getUint8', int8: 'getInt8', uint8: 'getUint8', int16: 'getInt16', uint16: 'getUint16', int32: 'getInt32', uint32: 'getUint32', int64: '', uint64: '',
};

function encodeField(f: Field, base: string, src: string): string {
  const at = `${base} + ${f.offset}`;
  // A field of a later version may be left out: written as 0 (what an older block reads as).
  const value = f.optional ? `(${src}.${f.name} ?? ${f.type.kind === 'timestamp' ? '0n' : '0'})` : `${src}.${f.name}`;
  switch (f.type.kind) {
    case 'chars': return `setChars(v, ${at}, ${f.type.length}, ${value}, '${f.name}');`;
    case 'bytes': return `setBytes(v, ${at}, ${f.type.length}, ${value}, '${f.name}');`;
    case 'timestamp': return `v.setBigUint64(${at}, ${value}, true);`;
    default:
      if (f.type.primitive === 'int64') return `setI64(v, ${at}, ${value}, '${f.name}');`;
      if (f.type.primitive === 'uint64') return `setU64(v, ${at}, ${value}, '${f.name}');`;
      return `v.${SETTER[f.type.primitive]}(${at}, ${value}${SIZE[f.type.primitive] > 1 ? ', true' : ''});`;
  }
}

/** A field read from a block of `length` bytes: one of a later version only if the block holds it. */
function decodeOptional(f: Field, base: string, path: string, length: string): string {
  if (!f.optional) return decodeField(f, base, path);
  const zero = f.type.kind === 'timestamp' ? '0n' : f.type.kind === 'enum' ? `0 as ${f.type.enumName}` : '0';
  return `${length} >= ${f.offset + f.size} ? ${decodeField(f, base, path)} : ${zero}`;
}

function decodeField(f: Field, base: string, path: string): string {
  const at = `${base} + ${f.offset}`;
  const name = `'${path}${f.name}'`;
  switch (f.type.kind) {
    case 'chars': return `getChars(v, ${at}, ${f.type.length})`;
    case 'bytes': return `getBytes(v, ${at}, ${f.type.length})`;
    case 'timestamp': return `v.getBigUint64(${at}, true)`;
    case 'enum': {
      const raw = `v.${GETTER[f.type.primitive]}(${at}${SIZE[f.type.primitive] > 1 ? ', true' : ''})`;
      return `checkEnum(${f.type.enumName}_VALUES, ${raw}, ${name}, '${f.type.enumName}') as ${f.type.enumName}`;
    }
    default:
      if (f.type.primitive === 'int64') return `getI64(v, ${at}, ${name})`;
      if (f.type.primitive === 'uint64') return `getU64(v, ${at}, ${name})`;
      return `v.${GETTER[f.type.primitive]}(${at}${SIZE[f.type.primitive] > 1 ? ', true' : ''})`;
  }
}

export function generate(xml: string): string {
  const s = parseSchema(xml);
  const out: string[] = [];
  out.push(`// Generated by src/protocol/generate.ts from src/protocol/junction-sbe.xml: do not edit.
// SBE 1.0, little-endian. Encoders write header + block + groups into a DataView and return the
// message length. A websocket frame carries one or more messages back to back; decodeMessages
// (decodeFrame for exactly one) checks every length, enum and 64-bit range and throws a
// DecodeError naming the field.
/* eslint-disable */

export const SCHEMA_ID = ${s.id};
export const SCHEMA_VERSION = ${s.version};
export const HEADER_BYTES = 8;
export const GROUP_HEADER_BYTES = 4;
/** Entries a repeating group may carry in one message. */
export const GROUP_ENTRIES_MAX = 4096;

export class DecodeError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(\`\${field}: \${problem}\`);
  }
}

export class EncodeError extends Error {}

const TWO_32 = 4294967296;

function setI64(v: DataView, at: number, x: number, field: string): void {
  if (!Number.isSafeInteger(x)) throw new EncodeError(\`\${field}: \${x} is not a safe integer\`);
  const hi = Math.floor(x / TWO_32);
  v.setUint32(at, x - hi * TWO_32, true);
  v.setInt32(at + 4, hi, true);
}

function setU64(v: DataView, at: number, x: number, field: string): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new EncodeError(\`\${field}: \${x} is not a non-negative safe integer\`);
  const hi = Math.floor(x / TWO_32);
  v.setUint32(at, x - hi * TWO_32, true);
  v.setUint32(at + 4, hi, true);
}

function getI64(v: DataView, at: number, field: string): number {
  const hi = v.getInt32(at + 4, true);
  if (hi > 0x1fffff || hi < -0x200000) throw new DecodeError(field, 'beyond the ±2^53 this protocol carries');
  return hi * TWO_32 + v.getUint32(at, true);
}

function getU64(v: DataView, at: number, field: string): number {
  const hi = v.getUint32(at + 4, true);
  if (hi > 0x1fffff) throw new DecodeError(field, 'beyond the 2^53 this protocol carries');
  return hi * TWO_32 + v.getUint32(at, true);
}

function setChars(v: DataView, at: number, length: number, s: string, field: string): void {
  if (s.length > length) throw new EncodeError(\`\${field}: longer than \${length} characters\`);
  for (let i = 0; i < length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0;
    if (c > 127) throw new EncodeError(\`\${field}: not ASCII\`);
    v.setUint8(at + i, c);
  }
}

function getChars(v: DataView, at: number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const c = v.getUint8(at + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function setBytes(v: DataView, at: number, length: number, b: Uint8Array, field: string): void {
  if (b.length !== length) throw new EncodeError(\`\${field}: must be \${length} bytes\`);
  new Uint8Array(v.buffer, v.byteOffset + at, length).set(b);
}

function getBytes(v: DataView, at: number, length: number): Uint8Array {
  return new Uint8Array(v.buffer.slice(v.byteOffset + at, v.byteOffset + at + length));
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes \`s\` takes in UTF-8 (what TextEncoder writes, a lone surrogate as U+FFFD), without encoding it. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Writes a varData's length and UTF-8 bytes at \`at\`; returns where it ends. */
function setVarString(v: DataView, at: number, s: string, field: string): number {
  const room = Math.max(0, v.byteLength - at - 4);
  const tooLong = () => new EncodeError(\`\${field}: \${utf8Length(s)} bytes do not fit in the \${room} left\`);
  if (at + 4 > v.byteLength) throw tooLong();
  const { read, written } = utf8Encoder.encodeInto(s, new Uint8Array(v.buffer, v.byteOffset + at + 4, room));
  if (read < s.length) throw tooLong();
  v.setUint32(at, written, true);
  return at + 4 + written;
}

function getVarString(v: DataView, at: number, length: number, field: string): string {
  try {
    return utf8Decoder.decode(new Uint8Array(v.buffer, v.byteOffset + at, length));
  } catch {
    throw new DecodeError(field, 'not UTF-8');
  }
}

function checkEnum(values: ReadonlySet<number>, raw: number, field: string, type: string): number {
  if (!values.has(raw)) throw new DecodeError(field, \`\${raw} is not a valid \${type}\`);
  return raw;
}

/** The header; \`version\` is the one the message's layout dates from (an older decoder reads it if it knows it). */
function writeHeader(v: DataView, at: number, blockLength: number, templateId: number, version: number): void {
  v.setUint16(at, blockLength, true);
  v.setUint16(at + 2, templateId, true);
  v.setUint16(at + 4, SCHEMA_ID, true);
  v.setUint16(at + 6, version, true);
}
`);
  for (const e of s.enums) {
    out.push(`export const ${e.name} = { ${e.values.map(([n, v]) => `${n}: ${v}`).join(', ')} } as const;`);
    out.push(`export type ${e.name} = (typeof ${e.name})[keyof typeof ${e.name}];`);
    out.push(`const ${e.name}_VALUES: ReadonlySet<number> = new Set([${e.values.map(([, v]) => v).join(', ')}]);\n`);
    if (e.descriptions.size > 0) {
      // The registry as data: each value's name and sentence, for people (CLI, SDK errors, logs).
      if (e.description) out.push(`/** ${e.description} */`);
      out.push(`export const ${e.name}Names: Readonly<Record<number, string>> = { ${e.values.map(([n, v]) => `${v}: '${n}'`).join(', ')} };`);
      out.push(`export const ${e.name}Text: Readonly<Record<number, string>> = {\n${e.values.map(([, v]) => `  ${v}: ${JSON.stringify(e.descriptions.get(v) ?? '')},`).join('\n')}\n};\n`);
    }
  }
  out.push(`export const TemplateId = { ${s.messages.map((m) => `${m.name}: ${m.id}`).join(', ')} } as const;\n`);
  for (const m of s.messages) {
    const groupEntryTypes = m.groups.map((g) => `${m.name}${g.name[0].toUpperCase()}${g.name.slice(1)}Entry`);
    m.groups.forEach((g, gi) => {
      out.push(`export interface ${groupEntryTypes[gi]} {\n${g.fields.map((f) => `  ${f.name}: ${tsType(f.type)};`).join('\n')}\n}\n`);
    });
    if (m.description) out.push(`/** ${m.description} */`);
    out.push(`export interface ${m.name} {\n${[
      ...m.fields.map((f) => `  ${f.name}${f.optional ? '?' : ''}: ${tsType(f.type)};`), ...m.groups.map((g, gi) => `  ${g.name}: ${groupEntryTypes[gi]}[];`),
      ...m.data.map((d) => `  ${d.name}: string;`),
    ].join('\n')}\n}\n`);
    out.push(`export const ${m.name.toUpperCase()}_BLOCK_LENGTH = ${m.blockLength};`);
    out.push(`/** Where each field of ${m.name}'s block starts, after the 8-byte header (for readers that skip decoding). */`);
    out.push(`export const ${m.name.toUpperCase()}_OFFSETS = { ${m.fields.map((f) => `${f.name}: ${f.offset}`).join(', ')} } as const;\n`);
    // size
    const groupSizes = m.groups.map((g) => ` + GROUP_HEADER_BYTES + m.${g.name}.length * ${g.blockLength}`).join('');
    const dataSizes = m.data.map((d) => ` + 4 + utf8Length(m.${d.name})`).join('');
    out.push(`export function sizeOf${m.name}(${m.groups.length || m.data.length ? 'm' : '_m'}: ${m.name}): number {\n  return HEADER_BYTES + ${m.blockLength}${groupSizes}${dataSizes};\n}\n`);
    // encoder
    const enc: string[] = [];
    const later = m.fields.filter((f) => f.optional);
    if (later.length === 0) {
      enc.push(`export function encode${m.name}(v: DataView, at: number, m: ${m.name}): number {`);
      enc.push(`  writeHeader(v, at, ${m.blockLength}, ${m.id}, ${m.version});`);
      enc.push(`  const b = at + HEADER_BYTES;`);
      for (const f of m.fields) enc.push(`  ${encodeField(f, 'b', 'm')}`);
      enc.push(`  let p = b + ${m.blockLength};`);
    } else {
      // A message that gained fields is written, for a decoder of an older version, in the layout
      // that version reads: its block ends before the later fields and its header says the version
      // that layout dates from (a version-1 decoder refuses a header newer than 1).
      const first = Math.max(1, ...m.fields.filter((f) => !f.optional).map((f) => f.since), ...m.groups.flatMap((g) => g.fields.map((f) => f.since)));
      const steps = [...new Set(later.map((f) => f.since))].sort((x, y) => y - x);
      const byVersion = (value: (since: number) => number, oldest: number) => steps.map((since) => `version >= ${since} ? ${value(since)} : `).join('') + oldest;
      const blockAt = (since: number) => Math.max(...m.fields.filter((f) => f.since <= since).map((f) => f.offset + f.size));
      enc.push(`/** Writes the layout a decoder of \`version\` reads (default: this schema's). */`);
      enc.push(`export function encode${m.name}(v: DataView, at: number, m: ${m.name}, version: number = SCHEMA_VERSION): number {`);
      enc.push(`  const blockLength = ${byVersion(blockAt, m.minBlockLength)};`);
      enc.push(`  writeHeader(v, at, blockLength, ${m.id}, ${byVersion((since) => Math.max(first, since), first)});`);
      enc.push(`  const b = at + HEADER_BYTES;`);
      for (const f of m.fields) enc.push(f.optional ? `  if (version >= ${f.since}) ${encodeField(f, 'b', 'm')}` : `  ${encodeField(f, 'b', 'm')}`);
      enc.push(`  let p = b + blockLength;`);
    }
    for (const g of m.groups) {
      enc.push(`  if (m.${g.name}.length > GROUP_ENTRIES_MAX) throw new EncodeError('${g.name}: more than ' + GROUP_ENTRIES_MAX + ' entries');`);
      enc.push(`  v.setUint16(p, ${g.blockLength}, true);`);
      enc.push(`  v.setUint16(p + 2, m.${g.name}.length, true);`);
      enc.push(`  p += GROUP_HEADER_BYTES;`);
      enc.push(`  for (const e of m.${g.name}) {`);
      for (const f of g.fields) enc.push(`    ${encodeField(f, 'p', 'e')}`);
      enc.push(`    p += ${g.blockLength};`);
      enc.push(`  }`);
    }
    for (const d of m.data) enc.push(`  p = setVarString(v, p, m.${d.name}, '${d.name}');`);
    enc.push(`  return p - at;`);
    enc.push(`}\n`);
    out.push(enc.join('\n'));
    // decoder (after the header is checked by decodeFrame)
    const dec: string[] = [];
    dec.push(`function decode${m.name}(v: DataView, b: number, blockLength: number, end: number): ${m.name} {`);
    dec.push(`  if (blockLength < ${m.minBlockLength}) throw new DecodeError('blockLength', \`\${blockLength} is shorter than ${m.name}'s ${m.minBlockLength}\`);`);
    // Named by the last field every version's block holds.
    const required = m.fields.filter((f) => !f.optional);
    dec.push(`  if (b + blockLength > end) throw new DecodeError('${required.length ? required[required.length - 1].name : 'block'}', 'frame ends inside the message block');`);
    dec.push(`  const m = {`);
    for (const f of m.fields) dec.push(`    ${f.name}: ${decodeOptional(f, 'b', '', 'blockLength')},`);
    for (const g of m.groups) dec.push(`    ${g.name}: [] as ${m.name}['${g.name}'],`);
    for (const d of m.data) dec.push(`    ${d.name}: '',`);
    dec.push(`  } as ${m.name};`);
    dec.push(`  let p = b + blockLength;`);
    for (const g of m.groups) {
      dec.push(`  if (p + GROUP_HEADER_BYTES > end) throw new DecodeError('${g.name}', 'frame ends before the group header');`);
      dec.push(`  {`);
      dec.push(`    const entryLength = v.getUint16(p, true);`);
      dec.push(`    const count = v.getUint16(p + 2, true);`);
      dec.push(`    if (entryLength < ${g.blockLength}) throw new DecodeError('${g.name}.blockLength', \`\${entryLength} is shorter than ${g.blockLength}\`);`);
      dec.push(`    if (count > GROUP_ENTRIES_MAX) throw new DecodeError('${g.name}.numInGroup', \`\${count} is over \${GROUP_ENTRIES_MAX}\`);`);
      dec.push(`    p += GROUP_HEADER_BYTES;`);
      dec.push(`    if (p + count * entryLength > end) throw new DecodeError('${g.name}', \`frame ends inside entry \${Math.floor((end - p) / entryLength)} of \${count}\`);`);
      dec.push(`    for (let i = 0; i < count; i++, p += entryLength) {`);
      dec.push(`      m.${g.name}.push({`);
      for (const f of g.fields) dec.push(`        ${f.name}: ${decodeField(f, 'p', `${g.name}.`)},`);
      dec.push(`      });`);
      dec.push(`    }`);
      dec.push(`  }`);
    }
    for (const d of m.data) {
      dec.push(`  if (p + 4 > end) throw new DecodeError('${d.name}', 'frame ends before its length');`);
      dec.push(`  {`);
      dec.push(`    const length = v.getUint32(p, true);`);
      dec.push(`    p += 4;`);
      dec.push(`    if (p + length > end) throw new DecodeError('${d.name}', \`frame ends inside its \${length} bytes\`);`);
      dec.push(`    m.${d.name} = getVarString(v, p, length, '${d.name}');`);
      dec.push(`    p += length;`);
      dec.push(`  }`);
    }
    dec.push(`  if (p !== end) throw new DecodeError('frame', \`\${end - p} bytes after the end of ${m.name}\`);`);
    dec.push(`  return m;`);
    dec.push(`}\n`);
    out.push(dec.join('\n'));
    // Readers into an object the caller keeps (no allocation): a message without groups, and each
    // group's entries, checked exactly as the decoder checks them.
    if (m.groups.length === 0 && m.data.length === 0) {
      const rd: string[] = [];
      rd.push(`/** Reads a ${m.name} whose block starts at b into \`m\` (checked as decodeMessages checks it). */`);
      rd.push(`export function read${m.name}(v: DataView, b: number, blockLength: number, end: number, m: ${m.name}): ${m.name} {`);
      rd.push(`  if (blockLength < ${m.minBlockLength}) throw new DecodeError('blockLength', \`\${blockLength} is shorter than ${m.name}'s ${m.minBlockLength}\`);`);
      rd.push(`  if (b + blockLength !== end) throw new DecodeError('frame', 'the message block does not end where the message does');`);
      for (const f of m.fields) rd.push(`  m.${f.name} = ${decodeOptional(f, 'b', '', 'blockLength')};`);
      rd.push(`  return m;`);
      rd.push(`}\n`);
      out.push(rd.join('\n'));
    }
    m.groups.forEach((g, gi) => {
      const entry = `${m.name}${g.name[0].toUpperCase()}${g.name.slice(1)}Entry`;
      const rd: string[] = [];
      rd.push(`/** Reads the ${m.name} ${g.name} entry at p into \`e\` (checked as decodeMessages checks it). */`);
      rd.push(`export function read${entry}(v: DataView, p: number, e: ${entry}): ${entry} {`);
      for (const f of g.fields) rd.push(`  e.${f.name} = ${decodeField(f, 'p', `${g.name}.`)};`);
      rd.push(`  return e;`);
      rd.push(`}\n`);
      if (gi === 0) {
        rd.push(`/**`);
        rd.push(` * Where the ${m.name} ${g.name} entries lie, for a message whose block starts at b: [first entry, entry length,`);
        rd.push(` * count], checked as decodeMessages checks them (the group must end where the message does).`);
        rd.push(` */`);
        rd.push(`export function ${m.name[0].toLowerCase()}${m.name.slice(1)}${g.name[0].toUpperCase()}${g.name.slice(1)}(v: DataView, b: number, blockLength: number, end: number): [number, number, number] {`);
        rd.push(`  if (blockLength < ${m.minBlockLength}) throw new DecodeError('blockLength', \`\${blockLength} is shorter than ${m.name}'s ${m.minBlockLength}\`);`);
        rd.push(`  let p = b + blockLength;`);
        rd.push(`  if (p + GROUP_HEADER_BYTES > end) throw new DecodeError('${g.name}', 'frame ends before the group header');`);
        rd.push(`  const entryLength = v.getUint16(p, true);`);
        rd.push(`  const count = v.getUint16(p + 2, true);`);
        rd.push(`  if (entryLength < ${g.blockLength}) throw new DecodeError('${g.name}.blockLength', \`\${entryLength} is shorter than ${g.blockLength}\`);`);
        rd.push(`  if (count > GROUP_ENTRIES_MAX) throw new DecodeError('${g.name}.numInGroup', \`\${count} is over \${GROUP_ENTRIES_MAX}\`);`);
        rd.push(`  p += GROUP_HEADER_BYTES;`);
        if (m.groups.length === 1 && m.data.length === 0) rd.push(`  if (p + count * entryLength !== end) throw new DecodeError('${g.name}', \`\${count} entries of \${entryLength} bytes do not end where the message does\`);`);
        rd.push(`  return [p, entryLength, count];`);
        rd.push(`}\n`);
      }
      out.push(rd.join('\n'));
    });
  }
  out.push(`export type Decoded =\n${s.messages.map((m) => `  | { type: '${m.name}'; templateId: ${m.id}; message: ${m.name} }`).join('\n')};\n`);
  out.push(`/** How many repeating groups, then varData fields, follow each message's block, by templateId. */
const PARTS_OF: ReadonlyMap<number, readonly [groups: number, varData: number]> = new Map([${s.messages.map((m) => `[${m.id}, [${m.groups.length}, ${m.data.length}]]`).join(', ')}]);

/**
 * Checks the header of the message at \`at\` and returns where the message ends (its block, group
 * headers and varData lengths say), never past \`end\`.
 */
export function messageEnd(v: DataView, at: number, end: number): number {
  if (at + HEADER_BYTES > end) throw new DecodeError('messageHeader', \`\${end - at} bytes are shorter than the 8-byte header\`);
  const blockLength = v.getUint16(at, true);
  const templateId = v.getUint16(at + 2, true);
  const schemaId = v.getUint16(at + 4, true);
  const version = v.getUint16(at + 6, true);
  if (schemaId !== SCHEMA_ID) throw new DecodeError('schemaId', \`\${schemaId} is not \${SCHEMA_ID}\`);
  if (version > SCHEMA_VERSION) throw new DecodeError('version', \`\${version} is newer than \${SCHEMA_VERSION}\`);
  const parts = PARTS_OF.get(templateId);
  if (parts === undefined) throw new DecodeError('templateId', \`\${templateId} is not a message of this schema\`);
  let p = at + HEADER_BYTES + blockLength;
  for (let g = 0; g < parts[0] && p + GROUP_HEADER_BYTES <= end; g++) p += GROUP_HEADER_BYTES + v.getUint16(p, true) * v.getUint16(p + 2, true);
  for (let d = 0; d < parts[1] && p + 4 <= end; d++) p += 4 + v.getUint32(p, true);
  return Math.min(p, end);
}

function decodeAt(v: DataView, at: number, end: number): Decoded {
  const blockLength = v.getUint16(at, true);
  const b = at + HEADER_BYTES;
  switch (v.getUint16(at + 2, true)) {
${s.messages.map((m) => `    case ${m.id}: return { type: '${m.name}', templateId: ${m.id}, message: decode${m.name}(v, b, blockLength, end) };`).join('\n')}
    default: throw new DecodeError('templateId', 'not a message of this schema');
  }
}

/** Decodes a frame holding exactly one message; throws DecodeError naming the field for anything malformed. */
export function decodeFrame(frame: Uint8Array): Decoded {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.byteLength < HEADER_BYTES) throw new DecodeError('messageHeader', \`a frame of \${frame.byteLength} bytes is shorter than the 8-byte header\`);
  messageEnd(v, 0, frame.byteLength);
  return decodeAt(v, 0, frame.byteLength);
}

/**
 * Decodes a frame of one or more messages back to back (each with its own header; its block and
 * group headers give its length). All of the frame decodes or none of it: the DecodeError names
 * the field and, past the first, which message.
 */
export function decodeMessages(frame: Uint8Array): Decoded[] {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const end = frame.byteLength;
  if (end < HEADER_BYTES) throw new DecodeError('messageHeader', \`a frame of \${end} bytes is shorter than the 8-byte header\`);
  const out: Decoded[] = [];
  for (let at = 0; at < end;) {
    try {
      const next = messageEnd(v, at, end);
      out.push(decodeAt(v, at, next));
      at = next;
    } catch (e) {
      if (e instanceof DecodeError && out.length > 0) throw new DecodeError(e.field, \`\${e.problem} (message \${out.length + 1} of the frame)\`);
      throw e;
    }
  }
  return out;
}
`);
  return out.join('\n');
}

function main(): void {
  const here = dirname(fileURLToPath(import.meta.url));
  // Runs from dist/src/protocol or src/protocol: the schema and codec live in src/protocol.
  const root = here.includes(`${join('dist', 'src')}`) ? join(here, '../../../src/protocol') : here;
  const xml = readFileSync(join(root, 'junction-sbe.xml'), 'utf8');
  const code = generate(xml);
  const target = join(root, 'codec.ts');
  if (process.argv.includes('--check')) {
    const current = readFileSync(target, 'utf8');
    if (current !== code) {
      console.error('src/protocol/codec.ts is out of date: run npm run protocol:generate');
      process.exit(1);
    }
    return;
  }
  writeFileSync(target, code);
  console.log(`wrote ${target}`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();

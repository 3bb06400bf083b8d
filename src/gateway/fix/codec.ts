// FIX 4.4 tag=value framing: messages cut out of a TCP byte stream (BeginString, BodyLength and
// CheckSum checked), their fields read in order, and messages written with an exact BodyLength and
// CheckSum. A message whose framing is wrong (bad BodyLength, bad CheckSum, no BeginString) is
// garbled: FIX says to drop it and carry on (the sequence gap brings it back); one whose fields are
// wrong is answered with a Reject(3) naming the tag.
export const BEGIN_STRING = 'FIX.4.4';
const BEGIN = Buffer.from(`8=${BEGIN_STRING}\x019=`, 'latin1');
/** The start of a next message inside what a BodyLength claims: that BodyLength is wrong. */
const NEXT_BEGIN = Buffer.from(`\x018=${BEGIN_STRING}\x01`, 'latin1');
const SOH = 0x01;
/** The largest body accepted: orders and admin messages are a few hundred bytes. */
export const BODY_BYTES_MAX = 16_384;

/** SessionRejectReason(373) values (FIX 4.4). */
export const enum SessionReject {
  InvalidTagNumber = 0, RequiredTagMissing = 1, TagNotDefinedForMessage = 2, UndefinedTag = 3, TagWithoutValue = 4,
  ValueIncorrect = 5, IncorrectDataFormat = 6, CompIdProblem = 9, SendingTimeAccuracy = 10, InvalidMsgType = 11,
  TagAppearsMoreThanOnce = 13, TagOutOfOrder = 14, RepeatingGroupOutOfOrder = 15, IncorrectNumInGroup = 16, Other = 99,
}

/** A field problem found while reading a message: what a Reject(3) says. */
export interface FieldFault { reason: SessionReject; tag: number; text: string }

export class FixMessage {
  /** Field tags and values in order, the header's and the trailer's included. */
  readonly tags: number[] = [];
  readonly values: string[] = [];
  msgType = '';
  seq = 0;
  /** The first field problem, if any (the message is still framed: its MsgSeqNum counts). */
  fault: FieldFault | undefined;

  get(tag: number): string | undefined {
    const tags = this.tags;
    for (let i = 0; i < tags.length; i++) if (tags[i] === tag) return this.values[i];
    return undefined;
  }

  has(tag: number): boolean {
    return this.tags.includes(tag);
  }
}

/** Header tags a message may carry (besides 8, 9, 35 first and 10 last). */
const HEADER_TAGS = new Set([49, 56, 34, 52, 43, 97, 122, 50, 57, 115, 128, 142, 143, 144, 145, 116, 129, 369, 627, 347]);
/** Tags that may repeat in a message: members of repeating groups the node reads. */
const GROUP_TAGS = new Set([269, 55, 146, 267, 48, 22, 460, 461]);

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 9) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export type FrameResult = FixMessage | { garbled: string };

/**
 * Cuts messages out of a byte stream. push() takes what the socket read; next() returns the next
 * whole message, a garbled one's reason, or undefined until more bytes come.
 */
export class FixFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private at = 0;

  push(chunk: Buffer): void {
    if (this.at >= this.buffer.length) {
      this.buffer = chunk;
      this.at = 0;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.at), chunk]);
      this.at = 0;
    }
  }

  /** Bytes waiting for the rest of their message. */
  get pending(): number { return this.buffer.length - this.at; }

  /** Skips to the next BeginString after the current position (what a garbled message leaves). */
  private resync(why: string): { garbled: string } {
    const b = this.buffer;
    const next = b.indexOf(BEGIN, this.at + 1);
    if (next >= 0) {
      this.at = next;
      return { garbled: why };
    }
    // Keep only a tail that is the start of a BeginString (so one run of garbage counts once).
    let keep = b.length;
    for (let p = Math.max(this.at + 1, b.length - BEGIN.length + 1); p < b.length; p++) {
      let prefix = true;
      for (let i = 0; p + i < b.length; i++) {
        if (b[p + i] !== BEGIN[i]) {
          prefix = false;
          break;
        }
      }
      if (prefix) {
        keep = p;
        break;
      }
    }
    this.at = keep;
    return { garbled: why };
  }

  next(): FrameResult | undefined {
    const b = this.buffer;
    const start = this.at;
    const available = b.length - start;
    if (available < BEGIN.length + 2) {
      // Not enough for a header yet; but bytes that cannot start one are garbage now.
      for (let i = 0; i < available && i < BEGIN.length; i++) if (b[start + i] !== BEGIN[i]) return this.resync('the message does not start with 8=FIX.4.4');
      return undefined;
    }
    for (let i = 0; i < BEGIN.length; i++) if (b[start + i] !== BEGIN[i]) return this.resync('the message does not start with 8=FIX.4.4|9=');
    let p = start + BEGIN.length;
    let bodyLength = 0;
    let digits = 0;
    for (; p < b.length && b[p] !== SOH; p++) {
      const c = b[p];
      if (c < 48 || c > 57 || ++digits > 6) return this.resync('BodyLength(9) is not a number of at most 6 digits');
      bodyLength = bodyLength * 10 + (c - 48);
    }
    if (p >= b.length) return undefined;
    if (digits === 0) return this.resync('BodyLength(9) is empty');
    if (bodyLength > BODY_BYTES_MAX) return this.resync(`BodyLength(9) ${bodyLength} exceeds ${BODY_BYTES_MAX}`);
    const bodyStart = p + 1;
    const trailer = bodyStart + bodyLength;
    const end = trailer + 7;
    if (b.length < end) {
      // A BodyLength too long would swallow the messages after it while waiting for bytes that
      // never come: a next message's start inside the claimed body shows it is wrong.
      const next = b.indexOf(NEXT_BEGIN, bodyStart);
      if (next >= 0) {
        this.at = next + 1;
        return { garbled: 'BodyLength(9) runs into the next message' };
      }
      return undefined;
    }
    if (b[trailer] !== 0x31 || b[trailer + 1] !== 0x30 || b[trailer + 2] !== 0x3d || b[end - 1] !== SOH || (bodyLength > 0 && b[trailer - 1] !== SOH)) {
      return this.resync('BodyLength(9) does not end the body at CheckSum(10)');
    }
    let sum = 0;
    for (let i = start; i < trailer; i++) sum += b[i];
    const stated = (b[trailer + 3] - 48) * 100 + (b[trailer + 4] - 48) * 10 + (b[trailer + 5] - 48);
    if (!(b[trailer + 3] >= 48 && b[trailer + 3] <= 57 && b[trailer + 4] >= 48 && b[trailer + 4] <= 57 && b[trailer + 5] >= 48 && b[trailer + 5] <= 57)) {
      return this.resync('CheckSum(10) is not three digits');
    }
    if (stated !== sum % 256) return this.resync(`CheckSum(10) is ${stated} but the message sums to ${sum % 256}`);
    this.at = end;
    return parseBody(b.toString('latin1', bodyStart, trailer));
  }
}

/** Reads a framed body's fields (from MsgType on, the trailer excluded), noting the first fault. */
export function parseBody(body: string): FixMessage {
  const m = new FixMessage();
  let inHeader = true;
  let index = 0;
  const n = body.length;
  for (let from = 0; from < n;) {
    // The tag, read digit by digit; the value is the one string a field makes.
    let tag = 0;
    let p = from;
    let valid = true;
    for (; p < n; p++) {
      const c = body.charCodeAt(p);
      if (c === 0x3d || c === 0x01) break;
      if (c < 48 || c > 57 || p - from >= 9) valid = false;
      else tag = tag * 10 + (c - 48);
    }
    const hasEquals = p < n && body.charCodeAt(p) === 0x3d;
    let soh = hasEquals ? body.indexOf('\x01', p + 1) : p;
    if (soh < 0) soh = n;
    const value = hasEquals ? body.slice(p + 1, soh) : '';
    const tagLength = p - from;
    if (!valid || tagLength === 0 || body.charCodeAt(from) === 48) {
      m.fault ??= { reason: SessionReject.InvalidTagNumber, tag: 0, text: `invalid tag ${JSON.stringify(body.slice(from, Math.min(p, from + 20)))}` };
      from = soh + 1;
      continue;
    }
    from = soh + 1;
    if (!hasEquals || value.length === 0) m.fault ??= { reason: SessionReject.TagWithoutValue, tag, text: `tag ${tag} has no value` };
    if (index === 0) {
      if (tag !== 35) m.fault ??= { reason: SessionReject.TagOutOfOrder, tag, text: 'MsgType(35) must be the third field' };
      else m.msgType = value;
    } else if (HEADER_TAGS.has(tag)) {
      if (!inHeader) m.fault ??= { reason: SessionReject.TagOutOfOrder, tag, text: `header tag ${tag} after the body began` };
    } else inHeader = false;
    if (tag === 8 || tag === 9 || tag === 10 || (tag === 35 && index > 0)) {
      m.fault ??= { reason: SessionReject.TagOutOfOrder, tag, text: `tag ${tag} out of place` };
    }
    // Repeated? (A message has a few dozen tags: a scan allocates nothing.)
    if (m.fault === undefined && !GROUP_TAGS.has(tag) && m.tags.includes(tag)) {
      m.fault = { reason: SessionReject.TagAppearsMoreThanOnce, tag, text: `tag ${tag} appears more than once` };
    }
    m.tags.push(tag);
    m.values.push(value);
    index++;
  }
  const seq = m.get(34);
  if (seq !== undefined && isDigits(seq)) m.seq = Number(seq);
  return m;
}

/** A FIX UTCTimestamp with milliseconds: YYYYMMDD-HH:MM:SS.sss. */
export function fixTime(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => (n < 10 ? '0' : '') + n;
  const p3 = (n: number) => (n < 10 ? '00' : n < 100 ? '0' : '') + n;
  return `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}-${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${p3(d.getUTCMilliseconds())}`;
}

const two = (s: string, at: number): number => {
  const a = s.charCodeAt(at) - 48;
  const b = s.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
};

/** A FIX UTCTimestamp (seconds, optional .sss, .ssssss or .sssssssss) as ms since the epoch, or NaN. */
export function parseFixTime(s: string): number {
  const n = s.length;
  if ((n !== 17 && n !== 21 && n !== 24 && n !== 27) || s.charCodeAt(8) !== 0x2d || s.charCodeAt(11) !== 0x3a || s.charCodeAt(14) !== 0x3a) return NaN;
  const year = two(s, 0) * 100 + two(s, 2);
  const month = two(s, 4);
  const day = two(s, 6);
  const hour = two(s, 9);
  const minute = two(s, 12);
  const second = two(s, 15);
  let ms = 0;
  if (n > 17) {
    if (s.charCodeAt(17) !== 0x2e) return NaN;
    for (let i = 18; i < n; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return NaN;
      if (i < 21) ms = ms * 10 + c;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN;
  const at = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return Number.isNaN(at) || new Date(at).getUTCDate() !== day ? NaN : at;
}

/** Digits of a non-negative integer. */
function digitsOf(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * Bytes of outgoing messages back to back (a batch's messages to one venue, or one message): what
 * is sent as it is and stored as it is for resends.
 */
export class FixBlob {
  bytes: Buffer;
  length = 0;
  /** Messages written, and the first and last sequence numbers. */
  count = 0;
  firstSeq = 0;
  lastSeq = 0;

  constructor(size = 2048) {
    this.bytes = Buffer.allocUnsafe(size);
  }

  reserve(bytes: number): void {
    if (this.length + bytes <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.length + bytes, 2 * this.bytes.length));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  /** What was written, as a view (no copy). */
  view(): Buffer {
    return this.bytes.subarray(0, this.length);
  }

  // ---- a message written field by field (the order path's reports: no string per report) ------

  /** Where the message being built starts, and where its fields after BeginString/BodyLength start. */
  private messageStart = 0;
  private innerStart = 0;

  /**
   * Starts a message: its header up to SendingTime is written PREFIX_MAX bytes ahead, leaving
   * room for BeginString and BodyLength, which end() writes once the length is known.
   */
  begin(writer: FixWriter, msgType: string, seq: number, sendingTime: string): void {
    this.reserve(PREFIX_MAX + 256);
    this.messageStart = this.length;
    this.length += PREFIX_MAX;
    this.innerStart = this.length;
    this.text(35, msgType);
    this.raw(writer.compIds);
    this.int(34, seq);
    this.text(52, sendingTime);
    if (this.count++ === 0) this.firstSeq = seq;
    this.lastSeq = seq;
  }

  private tag(tag: number): void {
    const b = this.bytes;
    if (tag >= 100) {
      b[this.length++] = 48 + Math.floor(tag / 100);
      b[this.length++] = 48 + (Math.floor(tag / 10) % 10);
    } else if (tag >= 10) b[this.length++] = 48 + Math.floor(tag / 10);
    b[this.length++] = 48 + (tag % 10);
    b[this.length++] = 0x3d;
  }

  /** Fields as they are (`tag=value` SOH ...). */
  raw(fields: string): void {
    this.reserve(fields.length);
    this.length += this.bytes.write(fields, this.length, 'latin1');
  }

  text(tag: number, value: string): void {
    this.reserve(value.length + 8);
    this.tag(tag);
    this.length += this.bytes.write(value, this.length, 'latin1');
    this.bytes[this.length++] = SOH;
  }

  char(tag: number, value: number): void {
    this.reserve(8);
    this.tag(tag);
    this.bytes[this.length++] = value;
    this.bytes[this.length++] = SOH;
  }

  private digits(n: number): void {
    const b = this.bytes;
    const d = digitsOf(n);
    for (let i = d - 1; i >= 0; i--) {
      b[this.length + i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.length += d;
  }

  /** Two non-negative integers as `a.b` (an ExecID). */
  pair(tag: number, a: number, b: number): void {
    this.reserve(48);
    this.tag(tag);
    this.digits(a);
    this.bytes[this.length++] = 0x2e;
    this.digits(b);
    this.bytes[this.length++] = SOH;
  }

  /** A non-negative integer field. */
  int(tag: number, n: number): void {
    this.reserve(26);
    this.tag(tag);
    this.digits(n);
    this.bytes[this.length++] = SOH;
  }

  /** `units` of 10^-scale as a decimal field ("95000.5"): exact, trailing zeros dropped. */
  decimal(tag: number, units: number, scale: number): void {
    this.reserve(48);
    this.tag(tag);
    const unit = POWERS[scale];
    const whole = scale === 0 ? units : Math.floor(units / unit);
    this.digits(whole);
    let fraction = units - whole * unit;
    if (fraction !== 0) {
      let places = scale;
      while (fraction % 10 === 0) {
        fraction /= 10;
        places--;
      }
      this.bytes[this.length++] = 0x2e;
      for (let zeros = places - digitsOf(fraction); zeros > 0; zeros--) this.bytes[this.length++] = 48;
      this.digits(fraction);
    }
    this.bytes[this.length++] = SOH;
  }

  /** Ends the message: BeginString and BodyLength before it, CheckSum after. */
  end(): void {
    const inner = this.length - this.innerStart;
    const prefix = 12 + digitsOf(inner) + 1;
    this.reserve(7);
    const b = this.bytes;
    const start = this.messageStart;
    // Close the room left for the prefix: the message moves back to where it started.
    b.copyWithin(start + prefix, this.innerStart, this.innerStart + inner);
    b.write(BEGIN_PREFIX, start, 'latin1');
    this.length = start + BEGIN_PREFIX.length;
    this.digits(inner);
    b[this.length++] = SOH;
    const at = start + prefix + inner;
    let sum = 0;
    for (let i = start; i < at; i++) sum += b[i];
    sum %= 256;
    b[at] = 0x31; b[at + 1] = 0x30; b[at + 2] = 0x3d;
    b[at + 3] = 48 + Math.floor(sum / 100); b[at + 4] = 48 + (Math.floor(sum / 10) % 10); b[at + 5] = 48 + (sum % 10);
    b[at + 6] = SOH;
    this.length = at + 7;
  }
}

const BEGIN_PREFIX = `8=${BEGIN_STRING}\x019=`;
/** Room left before a message's fields for BeginString and BodyLength (8=FIX.4.4|9=NNNNNN|). */
const PREFIX_MAX = 19;
const POWERS = Array.from({ length: 19 }, (_, i) => 10 ** i);

/** Writes a session's messages: header, body, BodyLength and CheckSum. */
export class FixWriter {
  /** The header's fixed part after MsgType: SenderCompID and TargetCompID. */
  readonly compIds: string;

  constructor(private readonly sender: string, private readonly target: string) {
    this.compIds = `49=${sender}\x0156=${target}\x01`;
  }

  /**
   * Appends one whole message to `blob`. `body` is its fields after the header, each `tag=value`
   * followed by SOH; `header` extra header fields in the same form (PossDupFlag, OrigSendingTime),
   * written after SendingTime. Latin-1 text throughout (FIX is ASCII).
   */
  writeInto(blob: FixBlob, msgType: string, seq: number, sendingTime: string, body: string, header = ''): void {
    blob.begin(this, msgType, seq, sendingTime);
    if (header.length > 0) blob.raw(header);
    blob.raw(body);
    blob.end();
  }

  /** One whole message as its own buffer. */
  write(msgType: string, seq: number, sendingTime: string, body: string, header = ''): Buffer {
    const blob = new FixBlob(128 + body.length + header.length);
    this.writeInto(blob, msgType, seq, sendingTime, body, header);
    return blob.view();
  }
}

/** One stored message read back for a resend: its number, type, first SendingTime and body fields. */
export interface RawMessage { seq: number; msgType: string; sendingTime: string; body: string }

/**
 * The messages of a stored blob, as written by FixWriter (whose header order is fixed: 8, 9, 35,
 * 49, 56, 34, [43, 122,] 52, then the body, then 10).
 */
export function* messagesOf(blob: Uint8Array): IterableIterator<RawMessage> {
  const text = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString('latin1');
  for (let at = 0; at < text.length;) {
    const lengthAt = text.indexOf('\x019=', at) + 3;
    const lengthEnd = text.indexOf('\x01', lengthAt);
    const bodyStart = lengthEnd + 1;
    const end = bodyStart + Number(text.slice(lengthAt, lengthEnd)) + 7;
    const typeEnd = text.indexOf('\x01', bodyStart);
    const seqAt = text.indexOf('\x0134=', bodyStart) + 4;
    const seqEnd = text.indexOf('\x01', seqAt);
    const timeAt = text.indexOf('\x0152=', seqEnd) + 4;
    const timeEnd = text.indexOf('\x01', timeAt);
    yield {
      msgType: text.slice(bodyStart + 3, typeEnd), seq: Number(text.slice(seqAt, seqEnd)),
      sendingTime: text.slice(timeAt, timeEnd), body: text.slice(timeEnd + 1, end - 7),
    };
    at = end;
  }
}

/**
 * A text as a FIX value: printable ASCII only (a control character could end the field, and a
 * character past Latin-1 would be cut to its low byte on the wire), anything else as '?'.
 */
export function fixText(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : s.replace(/[^\x20-\x7e]/g, '?');
}

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
    const next = this.buffer.indexOf(BEGIN, this.at + 1);
    if (next < 0) {
      // Keep a tail that may be the start of the next BeginString.
      this.at = Math.max(this.at + 1, this.buffer.length - BEGIN.length + 1);
    } else this.at = next;
    return { garbled: why };
  }

  next(): FrameResult | undefined {
    const b = this.buffer;
    const start = this.at;
    const available = b.length - start;
    if (available < BEGIN.length + 2) {
      // Not enough for a header yet; but bytes that cannot start one are garbage now.
      for (let i = 0; i < available; i++) if (b[start + i] !== BEGIN[i]) return this.resync('the message does not start with 8=FIX.4.4');
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
  const seen = new Set<number>();
  let inHeader = true;
  let index = 0;
  for (let from = 0; from < body.length;) {
    let soh = body.indexOf('\x01', from);
    if (soh < 0) soh = body.length;
    const field = body.slice(from, soh);
    from = soh + 1;
    const eq = field.indexOf('=');
    const tagText = eq < 0 ? field : field.slice(0, eq);
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (!isDigits(tagText) || tagText[0] === '0') {
      m.fault ??= { reason: SessionReject.InvalidTagNumber, tag: 0, text: `invalid tag ${JSON.stringify(tagText.slice(0, 20))}` };
      continue;
    }
    const tag = Number(tagText);
    if (eq < 0 || value.length === 0) m.fault ??= { reason: SessionReject.TagWithoutValue, tag, text: `tag ${tag} has no value` };
    if (index === 0) {
      if (tag !== 35) m.fault ??= { reason: SessionReject.TagOutOfOrder, tag, text: 'MsgType(35) must be the third field' };
      else m.msgType = value;
    } else if (HEADER_TAGS.has(tag)) {
      if (!inHeader) m.fault ??= { reason: SessionReject.TagOutOfOrder, tag, text: `header tag ${tag} after the body began` };
    } else inHeader = false;
    if (tag === 8 || tag === 9 || tag === 10 || (tag === 35 && index > 0)) {
      m.fault ??= { reason: SessionReject.TagOutOfOrder, tag, text: `tag ${tag} out of place` };
    }
    if (seen.has(tag) && !GROUP_TAGS.has(tag)) m.fault ??= { reason: SessionReject.TagAppearsMoreThanOnce, tag, text: `tag ${tag} appears more than once` };
    seen.add(tag);
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

/** A FIX UTCTimestamp (seconds, optional .sss, .ssssss or .sssssssss) as ms since the epoch, or NaN. */
export function parseFixTime(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}|\d{6}|\d{9}))?$/.exec(s);
  if (!m) return NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], m[7] ? +m[7].slice(0, 3) : 0);
  const d = new Date(ms);
  return d.getUTCDate() === +m[3] && d.getUTCHours() === +m[4] ? ms : NaN;
}

/** Writes a session's messages: header, body, BodyLength and CheckSum. */
export class FixWriter {
  constructor(private readonly sender: string, private readonly target: string) {}

  /**
   * One whole message. `body` is its fields after the header, each `tag=value` followed by SOH;
   * `header` extra header fields in the same form (PossDupFlag, OrigSendingTime).
   */
  write(msgType: string, seq: number, sendingTime: string, body: string, header = ''): Buffer {
    const inner = `35=${msgType}\x0149=${this.sender}\x0156=${this.target}\x0134=${seq}\x01${header}52=${sendingTime}\x01${body}`;
    const head = `8=${BEGIN_STRING}\x019=${Buffer.byteLength(inner, 'latin1')}\x01`;
    const out = Buffer.allocUnsafe(head.length + inner.length + 7);
    out.write(head, 0, "latin1");
    out.write(inner, head.length, "latin1");
    let sum = 0;
    const n = head.length + inner.length;
    for (let i = 0; i < n; i++) sum += out[i];
    sum %= 256;
    out[n] = 0x31; out[n + 1] = 0x30; out[n + 2] = 0x3d;
    out[n + 3] = 48 + Math.floor(sum / 100); out[n + 4] = 48 + (Math.floor(sum / 10) % 10); out[n + 5] = 48 + (sum % 10);
    out[n + 6] = SOH;
    return out;
  }
}

/** Escapes nothing: FIX text values must not hold SOH; this replaces any with a space. */
export function fixText(s: string): string {
  return s.replace(/[\x00-\x1f]/g, ' ');
}

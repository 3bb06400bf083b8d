// Messages bound for one destination (a connection, a public topic) during one event-loop turn,
// back to back: SBE messages delimit themselves, so they go out as one websocket frame.

/** A frame the node sends holds messages up to this many bytes (a larger single message goes alone). */
export const OUT_FRAME_BYTES = 64 * 1024;

export class PackedFrame {
  private bytes = new Uint8Array(4096);
  length = 0;

  /** Whether `length` more bytes still fit in this frame. */
  fits(length: number): boolean {
    return this.length + length <= OUT_FRAME_BYTES;
  }

  /** Appends `length` bytes of `from` at `fromAt` (the caller checked fits()). */
  append(from: Uint8Array, fromAt: number, length: number): void {
    if (this.length + length > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.min(OUT_FRAME_BYTES, Math.max(2 * this.bytes.byteLength, this.length + length)));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    // A view made with the constructor and set() measured about 3x faster here than a byte loop
    // or subarray() for ~100-byte messages.
    this.bytes.set(new Uint8Array(from.buffer, from.byteOffset + fromAt, length), this.length);
    this.length += length;
  }

  /** The frame so far, emptied for the next turn (the view is valid until the next append). */
  take(): Uint8Array {
    const frame = this.bytes.subarray(0, this.length);
    this.length = 0;
    return frame;
  }
}

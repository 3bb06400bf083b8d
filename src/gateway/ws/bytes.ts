// Byte copying on the send path. A view made with the constructor and TypedArray.set measured
// about 3x faster here than a byte loop or subarray() for ~100-byte messages.

/** Copies `length` bytes of `from` at `fromAt` into `to` at `at`. */
export function copyBytes(from: Uint8Array, fromAt: number, length: number, to: Uint8Array, at: number): void {
  to.set(new Uint8Array(from.buffer, from.byteOffset + fromAt, length), at);
}

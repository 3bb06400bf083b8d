// Byte copying on the send path. A view made with the constructor and TypedArray.set measured
// about 3x faster here than a byte loop or subarray() for ~100-byte messages.

/** Copies the first `length` bytes of `from` into `to` at `at`. */
export function copyBytes(from: Uint8Array, length: number, to: Uint8Array, at: number): void {
  to.set(new Uint8Array(from.buffer, from.byteOffset, length), at);
}

// Byte copying on the send path, where messages are short and a view per copy would cost more
// than the copy.

/** Copies the first `length` bytes of `from` into `to` at `at`. */
export function copyBytes(from: Uint8Array, length: number, to: Uint8Array, at: number): void {
  if (length <= 256) {
    for (let i = 0; i < length; i++) to[at + i] = from[i];
  } else {
    to.set(from.subarray(0, length), at);
  }
}

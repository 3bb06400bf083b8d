// The wire's timestamps: the sequencer stamps microseconds (a number); messages carry nanoseconds
// (a u64, a bigint here). The bigint is made once per timestamp, not once per message (a batch's
// commands share one).
export class WireTime {
  private of = -1;
  private value = 0n;

  /** Nanoseconds of a sequencer timestamp in microseconds. */
  ns(tsMicros: number): bigint {
    if (tsMicros !== this.of) {
      this.of = tsMicros;
      this.value = BigInt(tsMicros) * 1000n;
    }
    return this.value;
  }
}

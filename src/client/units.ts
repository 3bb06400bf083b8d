// Prices and quantities as a person writes them, converted exactly to and from the integer units
// on the wire. A price unit is 10^-quoteScale of the quote asset per whole base (USD scale 6:
// micro-USD), a quantity unit 10^-baseScale of the base asset (BTC scale 8: 1e-8 BTC). Decimal
// strings are parsed digit by digit, never through floating point.
import type * as sbe from '../protocol/codec.js';

/** What a client needs of an instrument to convert and check: the InstrumentList entry. */
export type Instrument = sbe.InstrumentListInstrumentsEntry;

export class UnitError extends Error {}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** `text` (e.g. "95000.5") in units of 10^-scale, exactly; throws naming `what` when it cannot be. */
export function toUnits(text: string, scale: number, what: string, unitName = `10^-${scale}`): number {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new UnitError(`${what} ${JSON.stringify(text)} is not a decimal number (digits, one optional point)`);
  const [, whole, fraction = ''] = m;
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > scale) {
    throw new UnitError(`${what} ${text} has more decimal places than ${scale} (the smallest unit is ${unitName})`);
  }
  const units = BigInt(whole + significant.padEnd(scale, '0'));
  if (units > BigInt(Number.MAX_SAFE_INTEGER)) throw new UnitError(`${what} ${text} is too large`);
  return Number(units);
}

/** `units` of 10^-scale as a decimal string, exactly ("95000.5"; trailing zeros dropped). */
export function fromUnits(units: number, scale: number): string {
  const negative = units < 0;
  const digits = String(Math.abs(units)).padStart(scale + 1, '0');
  let text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  if (scale > 0) text = text.replace(/0+$/, '').replace(/\.$/, '');
  return negative ? `-${text}` : text;
}

/** A price in the instrument's quote asset ("95000.5"), as wire units on its tick grid. */
export function priceUnits(instrument: Instrument, text: string): number {
  const units = toUnits(text, instrument.quoteScale, 'price', `${fromUnits(1, instrument.quoteScale)} ${instrument.quote}`);
  if (units % instrument.tickSize !== 0) {
    throw new UnitError(`price ${text} is not on ${instrument.symbol}'s tick of ${fromUnits(instrument.tickSize, instrument.quoteScale)} ${instrument.quote}`);
  }
  return units;
}

/** A quantity in the instrument's base asset ("0.01"), as wire units in whole lots, within its size limits. */
export function qtyUnits(instrument: Instrument, text: string, amend = false): number {
  const units = toUnits(text, instrument.baseScale, 'quantity', `${fromUnits(1, instrument.baseScale)} ${instrument.base}`);
  const lot = fromUnits(instrument.lotSize, instrument.baseScale);
  if (units % instrument.lotSize !== 0) throw new UnitError(`quantity ${text} is not a whole number of ${instrument.symbol}'s lot of ${lot} ${instrument.base}`);
  if (!amend && units < instrument.minQty) {
    throw new UnitError(`quantity ${text} is below ${instrument.symbol}'s minimum of ${fromUnits(instrument.minQty, instrument.baseScale)} ${instrument.base}`);
  }
  if (units > instrument.maxQty) {
    throw new UnitError(`quantity ${text} is above ${instrument.symbol}'s maximum of ${fromUnits(instrument.maxQty, instrument.baseScale)} ${instrument.base}`);
  }
  return units;
}

export function formatPrice(instrument: Instrument, units: number): string {
  return fromUnits(units, instrument.quoteScale);
}

export function formatQty(instrument: Instrument, units: number): string {
  return fromUnits(units, instrument.baseScale);
}

/** The instrument named by its symbol ("BTC-USD") or id ("1"); throws listing the ones there are. */
export function findInstrument(instruments: readonly Instrument[], name: string | number): Instrument {
  const found = typeof name === 'number' || /^\d+$/.test(name)
    ? instruments.find((i) => i.instrument === Number(name))
    : instruments.find((i) => i.symbol.toUpperCase() === name.toUpperCase());
  if (!found) {
    throw new UnitError(`no instrument ${name}; the node lists ${instruments.map((i) => `${i.symbol} (${i.instrument})`).join(', ') || 'none'}`);
  }
  return found;
}

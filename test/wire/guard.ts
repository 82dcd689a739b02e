/**
 * Test helper: a Uint8Array stand-in that throws on any indexed read or write
 * outside [lo, hi). Codecs read bytes by index, so an out-of-bounds read (which
 * on a plain Uint8Array silently yields undefined) becomes a failure. Methods
 * (subarray, length, buffer, ...) are forwarded to the real array.
 */
export function guarded(bytes: Uint8Array, lo = 0, hi = bytes.length): Uint8Array {
  return new Proxy(bytes, {
    get(target, prop) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < lo || i >= hi) throw new RangeError(`read at ${i} outside [${lo}, ${hi})`);
        return target[i];
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
    set(target, prop, value) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < lo || i >= hi) throw new RangeError(`write at ${i} outside [${lo}, ${hi})`);
        target[i] = value;
        return true;
      }
      return Reflect.set(target, prop, value, target);
    },
  });
}

/**
 * SipHash-2-4 (Aumasson & Bernstein, 2012) in plain 32-bit JavaScript
 * arithmetic: each 64-bit lane is a (hi, lo) pair of unsigned 32-bit
 * numbers. Linux keys its ISNs, timestamp offsets and ephemeral-port offsets
 * with SipHash (RFC 6528 asks for "a keyed hash such as MD5"; SipHash is the
 * modern choice), so usnet does the same, keyed from the stack's seeded Rng.
 *
 * Streaming and allocation-free: `begin(key)`, feed 32-bit words (`u32`) or
 * bytes, then `finish()`; the 64-bit result is in `hi` / `lo`. One instance
 * per owner; not re-entrant.
 */

export class SipHash {
  /** The result of the last finish(): high and low 32 bits. */
  hi = 0;
  lo = 0;

  private v0h = 0;
  private v0l = 0;
  private v1h = 0;
  private v1l = 0;
  private v2h = 0;
  private v2l = 0;
  private v3h = 0;
  private v3l = 0;
  /** Pending message bytes (little-endian 64-bit word being filled). */
  private mh = 0;
  private ml = 0;
  private nbytes = 0;

  /** Start a hash with a 128-bit key given as four 32-bit words (k0 = w1:w0, k1 = w3:w2, little-endian). */
  begin(key: Uint32Array): this {
    const k0l = key[0];
    const k0h = key[1];
    const k1l = key[2];
    const k1h = key[3];
    // "somepseudorandomlygeneratedbytes"
    this.v0h = (k0h ^ 0x736f6d65) >>> 0;
    this.v0l = (k0l ^ 0x70736575) >>> 0;
    this.v1h = (k1h ^ 0x646f7261) >>> 0;
    this.v1l = (k1l ^ 0x6e646f6d) >>> 0;
    this.v2h = (k0h ^ 0x6c796765) >>> 0;
    this.v2l = (k0l ^ 0x6e657261) >>> 0;
    this.v3h = (k1h ^ 0x74656462) >>> 0;
    this.v3l = (k1l ^ 0x79746573) >>> 0;
    this.mh = 0;
    this.ml = 0;
    this.nbytes = 0;
    return this;
  }

  /** Feed one byte. */
  byte(b: number): this {
    const pos = this.nbytes & 7;
    if (pos < 4) this.ml = (this.ml | ((b & 0xff) << (pos * 8))) >>> 0;
    else this.mh = (this.mh | ((b & 0xff) << ((pos - 4) * 8))) >>> 0;
    this.nbytes++;
    if ((this.nbytes & 7) === 0) this.block();
    return this;
  }

  /** Feed a 32-bit word as 4 little-endian bytes. */
  u32(w: number): this {
    if ((this.nbytes & 3) !== 0) {
      this.byte(w);
      this.byte(w >>> 8);
      this.byte(w >>> 16);
      return this.byte(w >>> 24);
    }
    if ((this.nbytes & 7) === 0) {
      this.ml = w >>> 0;
      this.nbytes += 4;
    } else {
      this.mh = w >>> 0;
      this.nbytes += 4;
      this.block();
    }
    return this;
  }

  /** Copy the whole hashing state into `out` (11 words), to resume from it later with load(). */
  save(out: Uint32Array): void {
    out[0] = this.v0h;
    out[1] = this.v0l;
    out[2] = this.v1h;
    out[3] = this.v1l;
    out[4] = this.v2h;
    out[5] = this.v2l;
    out[6] = this.v3h;
    out[7] = this.v3l;
    out[8] = this.mh;
    out[9] = this.ml;
    out[10] = this.nbytes;
  }

  /** Resume from a state save() took (same key, same prefix fed). */
  load(st: Uint32Array): this {
    this.v0h = st[0];
    this.v0l = st[1];
    this.v1h = st[2];
    this.v1l = st[3];
    this.v2h = st[4];
    this.v2l = st[5];
    this.v3h = st[6];
    this.v3l = st[7];
    this.mh = st[8];
    this.ml = st[9];
    this.nbytes = st[10];
    return this;
  }

  bytes(buf: Uint8Array, off = 0, len = buf.length - off): this {
    for (let i = 0; i < len; i++) this.byte(buf[off + i]);
    return this;
  }

  /** Finish; the result is in `hi` / `lo` (and `lo` is returned, the usual 32-bit use). */
  finish(): number {
    // Last block: the remaining bytes, and the length (mod 256) in the top byte.
    const pos = this.nbytes & 7;
    const lenByte = (this.nbytes & 0xff) << 24;
    // Bytes not yet written in the pending word are already zero.
    let mh = this.mh;
    const ml = this.ml;
    if (pos < 4) mh = 0;
    mh = (mh | lenByte) >>> 0;
    this.compress(mh, ml);
    this.v2l = (this.v2l ^ 0xff) >>> 0;
    this.rounds(4);
    this.hi = (this.v0h ^ this.v1h ^ this.v2h ^ this.v3h) >>> 0;
    this.lo = (this.v0l ^ this.v1l ^ this.v2l ^ this.v3l) >>> 0;
    return this.lo;
  }

  private block(): void {
    this.compress(this.mh, this.ml);
    this.mh = 0;
    this.ml = 0;
  }

  private compress(mh: number, ml: number): void {
    this.v3h = (this.v3h ^ mh) >>> 0;
    this.v3l = (this.v3l ^ ml) >>> 0;
    this.rounds(2);
    this.v0h = (this.v0h ^ mh) >>> 0;
    this.v0l = (this.v0l ^ ml) >>> 0;
  }

  private rounds(n: number): void {
    let v0h = this.v0h;
    let v0l = this.v0l;
    let v1h = this.v1h;
    let v1l = this.v1l;
    let v2h = this.v2h;
    let v2l = this.v2l;
    let v3h = this.v3h;
    let v3l = this.v3l;
    let t: number;
    let l: number;
    for (let r = 0; r < n; r++) {
      // v0 += v1
      l = (v0l + v1l) >>> 0;
      v0h = (v0h + v1h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      // v1 = rotl(v1, 13) ^ v0
      t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      v1l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
      v1h = (t ^ v0h) >>> 0;
      v1l = (v1l ^ v0l) >>> 0;
      // v0 = rotl(v0, 32)
      t = v0h;
      v0h = v0l;
      v0l = t;
      // v2 += v3
      l = (v2l + v3l) >>> 0;
      v2h = (v2h + v3h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      // v3 = rotl(v3, 16) ^ v2
      t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      v3l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
      v3h = (t ^ v2h) >>> 0;
      v3l = (v3l ^ v2l) >>> 0;
      // v0 += v3
      l = (v0l + v3l) >>> 0;
      v0h = (v0h + v3h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      // v3 = rotl(v3, 21) ^ v0
      t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      v3l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
      v3h = (t ^ v0h) >>> 0;
      v3l = (v3l ^ v0l) >>> 0;
      // v2 += v1
      l = (v2l + v1l) >>> 0;
      v2h = (v2h + v1h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      // v1 = rotl(v1, 17) ^ v2
      t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      v1l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
      v1h = (t ^ v2h) >>> 0;
      v1l = (v1l ^ v2l) >>> 0;
      // v2 = rotl(v2, 32)
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    this.v0h = v0h;
    this.v0l = v0l;
    this.v1h = v1h;
    this.v1l = v1l;
    this.v2h = v2h;
    this.v2l = v2l;
    this.v3h = v3h;
    this.v3l = v3l;
  }
}

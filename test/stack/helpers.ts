import type { Link } from '../../src/link/link.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';
import { Stack, type StackOptions } from '../../src/stack.js';

export interface TwoStacksOptions {
  delay?: number;
  mtu?: number;
  a?: StackOptions;
  b?: StackOptions;
  /** What a's eth0 is, given its end of the wire (e.g. a PcapTap around it); default: the wire itself. */
  linkA?: (end: Link, world: World) => Link;
}

/** Two stacks a (198.18.0.1, fd00::1) and b (.2, ::2) on one MemoryWire, in a World. */
export function twoStacks(opts: TwoStacksOptions = {}) {
  const world = new World();
  const wire = world.add(
    new MemoryWire({ delay: opts.delay ?? 1, mtu: opts.mtu ?? 1500, clock: world.clock, name: 'wire' }),
  );
  const a = world.add(new Stack({ seed: 1, name: 'a', ...opts.a }));
  const b = world.add(new Stack({ seed: 2, name: 'b', ...opts.b }));
  a.addInterface('eth0', opts.linkA ? opts.linkA(wire.a, world) : wire.a, {
    addrs: ['198.18.0.1/24', 'fd00::1/64'],
  });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24', 'fd00::2/64'] });
  return { world, wire, a, b };
}

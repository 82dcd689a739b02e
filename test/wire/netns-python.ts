/**
 * Kernel-comparison tests in test/wire run a small Python program inside a
 * network namespace as the kernel-side peer; it prints "ready" once its
 * sockets are bound.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Netns } from '../../src/node/netns.js';

/** Run `lines` (Python source) in `ns`; stdout is piped (for the ready line), stderr inherited. */
export function spawnPython(ns: Netns, lines: string[], stdin: 'pipe' | 'ignore'): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns.name, 'python3', '-c', lines.join('\n')], {
    stdio: [stdin, 'pipe', 'inherit'],
  });
}

/** True once the child prints "ready"; false after `ms` without it. */
export function untilReady(child: ChildProcess, ms = 15_000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        resolve(true);
      }
    });
  });
}

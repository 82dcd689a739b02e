/**
 * A tiny event emitter with Node's EventEmitter semantics for the parts the
 * net-style API needs (on/once/off/emit, listeners run in registration order,
 * an 'error' emitted with no listener throws), so code written against
 * node:net finds the same behaviour in a browser without Node built-ins.
 */

// biome-ignore lint/suspicious/noExplicitAny: listeners take whatever their event passes, as in Node.
export type Listener = (...args: any[]) => void;

interface Entry {
  fn: Listener;
  once: boolean;
}

export class Emitter {
  private readonly events = new Map<string | symbol, Entry[]>();

  on(event: string | symbol, fn: Listener): this {
    return this.add(event, fn, false);
  }

  addListener(event: string | symbol, fn: Listener): this {
    return this.add(event, fn, false);
  }

  once(event: string | symbol, fn: Listener): this {
    return this.add(event, fn, true);
  }

  off(event: string | symbol, fn: Listener): this {
    const list = this.events.get(event);
    if (list === undefined) return this;
    // Node removes the most recently added matching listener.
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].fn === fn) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this.events.delete(event);
    return this;
  }

  removeListener(event: string | symbol, fn: Listener): this {
    return this.off(event, fn);
  }

  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) this.events.clear();
    else this.events.delete(event);
    return this;
  }

  listenerCount(event: string | symbol): number {
    return this.events.get(event)?.length ?? 0;
  }

  listeners(event: string | symbol): Listener[] {
    return (this.events.get(event) ?? []).map((e) => e.fn);
  }

  /** Calls the listeners synchronously; returns whether there were any. An unheard 'error' is thrown, as in Node. */
  emit(event: string | symbol, ...args: unknown[]): boolean {
    const list = this.events.get(event);
    if (list === undefined || list.length === 0) {
      if (event === 'error') {
        const err = args[0];
        throw err instanceof Error ? err : new Error(`Unhandled error: ${String(err)}`);
      }
      return false;
    }
    // A copy: listeners may add or remove listeners while we run them.
    const snapshot = list.slice();
    for (const e of snapshot) {
      if (e.once) {
        const i = list.indexOf(e);
        if (i >= 0) list.splice(i, 1);
      }
      e.fn.apply(this, args);
    }
    if (list.length === 0 && this.events.get(event) === list) this.events.delete(event);
    return true;
  }

  /** Hook for subclasses (Node's 'newListener'): called before a listener is added. */
  protected onNewListener(_event: string | symbol): void {}

  private add(event: string | symbol, fn: Listener, once: boolean): this {
    if (typeof fn !== 'function') throw new TypeError('The "listener" argument must be of type function');
    this.onNewListener(event);
    let list = this.events.get(event);
    if (list === undefined) {
      list = [];
      this.events.set(event, list);
    }
    list.push({ fn, once });
    return this;
  }
}

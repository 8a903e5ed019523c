// OpenTelemetry ContextManager on AsyncLocalStorage, with a cheaper EventEmitter binding.
// Interface: @opentelemetry/api ContextManager (active, with, bind, enable, disable); behaviour as
// @opentelemetry/context-async-hooks' AsyncLocalStorageContextManager except for emitters.
//
// Why not that class: its bind(context, emitter) — called by the http instrumentation for the
// request and the response of EVERY request — replaces eight listener methods on the instance and
// wraps every listener added later (a closure, a WeakMap entry and an Object.defineProperty each).
// Besides the work, the eight new own properties change the hidden class of every
// IncomingMessage/ServerResponse, which makes the rest of node:http slower. Measured on the http
// overhead bench with an empty handler, that binding was about half of the instrumentation's cost.
//
// Here bind(context, emitter) replaces only `emit`: every emit runs its listeners inside `context`.
// Listeners added after the bind (what the OTel contract is about) see exactly the same context as
// with the original; listeners added before it (node:http's own) now also run in it, which changes
// nothing for them. removeListener/off work untouched, as listeners are never wrapped.
// Like the original, the first bind of an emitter wins.

import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';

type AnyFunction = (...args: unknown[]) => unknown;

export class PeriscopeContextManager implements ContextManager {
  private storage = new AsyncLocalStorage<Context>();
  private readonly boundEmitters = new WeakSet<EventEmitter>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    if (thisArg === undefined || thisArg === null) return this.storage.run(context, fn, ...args);
    return this.storage.run(context, () => fn.apply(thisArg, args));
  }

  bind<T>(context: Context, target: T): T {
    if (target instanceof EventEmitter) return this.bindEmitter(context, target) as T;
    if (typeof target === 'function') return this.bindFunction(context, target as unknown as AnyFunction) as T;
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    this.storage = new AsyncLocalStorage<Context>();
    return this;
  }

  private bindFunction(context: Context, target: AnyFunction): AnyFunction {
    const storage = this.storage;
    const wrapper = function (this: unknown, ...args: unknown[]) {
      return storage.run(context, () => target.apply(this, args));
    };
    // keep the arity: some callers (e.g. middleware routers) dispatch on fn.length
    Object.defineProperty(wrapper, 'length', { enumerable: false, configurable: true, writable: false, value: target.length });
    return wrapper;
  }

  private bindEmitter(context: Context, ee: EventEmitter): EventEmitter {
    if (this.boundEmitters.has(ee)) return ee;
    this.boundEmitters.add(ee);
    const storage = this.storage;
    const emit = ee.emit;
    ee.emit = function boundEmit(this: EventEmitter, ...args: Parameters<EventEmitter['emit']>) {
      return storage.run(context, () => emit.apply(this, args));
    };
    return ee;
  }
}

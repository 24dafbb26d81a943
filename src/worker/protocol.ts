/**
 * The one message convention both workers speak, and the typed client and server over it.
 *
 * A protocol is a table, request type → { req: its fields, res: what it resolves with, event: what
 * it may report while it runs }. Messages:
 *
 *   page → worker   { type, id, ...req }                 every message is a request with an id
 *   worker → page   { kind: 'reply', id, value }         the request's result (resolves it)
 *                   { kind: 'fail', id, message, msg, detail } it failed (rejects it with a WorkerError):
 *                                                         message in English, msg the same coded (spec/message.ts)
 *                   { kind: 'event', id, event }          progress of request `id` (its onEvent)
 *                   { kind: 'broadcast', event }          news not tied to a request (device lost)
 *
 * Every request ends in exactly one reply or fail: a handler that throws becomes a fail, and a
 * worker that crashes fails every request still open, so no spinner waits forever.
 */

import { englishOf, messageOfError, msg, uncoded, type Message } from '../spec/message';

export interface Call {
  req: object;
  res: unknown;
  event?: unknown;
}
export type Protocol = Record<string, Call>;

export type RequestOf<P extends Protocol, K extends keyof P & string> = { type: K; id: number } & P[K]['req'];
export type AnyRequest<P extends Protocol> = { [K in keyof P & string]: RequestOf<P, K> }[keyof P & string];
type EventOf<P extends Protocol, K extends keyof P> = P[K] extends { event: infer E } ? E : never;

export type FromWorker<P extends Protocol, B> =
  | { kind: 'reply'; id: number; value: P[keyof P]['res'] }
  | { kind: 'fail'; id: number; message: string; msg?: Message; detail?: unknown }
  | { kind: 'event'; id: number; event: EventOf<P, keyof P> }
  | { kind: 'broadcast'; event: B };

/** A request that failed in the worker: its message for people (English; `msg` coded, for any
 *  language: an error thrown without a code arrives uncoded), and the handler's structured detail. */
export class WorkerError extends Error {
  readonly msg: Message;
  constructor(message: string, readonly detail: unknown = undefined, m?: Message) {
    super(message);
    this.name = 'WorkerError';
    this.msg = m ?? uncoded(message);
  }
}

/** Thrown by a handler (or the client) for a request that a newer one replaced: not an error to show. */
export const SUPERSEDED = 'superseded';
export const isSuperseded = (err: unknown): boolean => err instanceof WorkerError && err.detail === SUPERSEDED;

export interface RequestOptions<E> {
  onEvent?: (event: E) => void;
  transfer?: Transferable[];
}

interface Open {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onEvent?: (e: unknown) => void;
}

/** The page's side: one per worker, created lazily on the first request. */
export class WorkerClient<P extends Protocol, B = never> {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly open = new Map<number, Open>();

  constructor(
    private readonly spawn: () => Worker,
    private readonly hooks: { onBroadcast?: (event: B) => void; onCrash?: (message: string, m: Message) => void } = {},
  ) {}

  request<K extends keyof P & string>(type: K, req: P[K]['req'], opts: RequestOptions<EventOf<P, K>> = {}): Promise<P[K]['res']> {
    // The envelope owns `type` and `id`: a request field of that name would be overwritten.
    if (Object.hasOwn(req, 'id') || Object.hasOwn(req, 'type')) return Promise.reject(new Error(`request "${type}" has a field named id or type; rename it (the envelope uses them)`));
    const id = ++this.nextId;
    return new Promise<P[K]['res']>((resolve, reject) => {
      this.open.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent: opts.onEvent as ((e: unknown) => void) | undefined });
      this.get().postMessage({ ...req, type, id }, opts.transfer ?? []);
    });
  }

  /** The worker exists (a request was made since the page opened or the last crash). */
  get started(): boolean {
    return this.worker !== null;
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.open.size;
  }

  private get(): Worker {
    if (this.worker) return this.worker;
    const w = this.spawn();
    w.onmessage = (ev: MessageEvent<FromWorker<P, B>>) => this.receive(ev.data);
    w.onerror = (ev) => {
      ev.preventDefault();
      this.crash(ev.message ? msg('worker.stopped', { detail: ev.message }) : msg('worker.failedToStart'));
    };
    w.onmessageerror = () => this.crash(msg('worker.unreadable'));
    this.worker = w;
    return w;
  }

  private receive(m: FromWorker<P, B>): void {
    if (m.kind === 'broadcast') {
      this.hooks.onBroadcast?.(m.event);
      return;
    }
    const o = this.open.get(m.id);
    if (!o) return;
    if (m.kind === 'event') {
      o.onEvent?.(m.event);
      return;
    }
    this.open.delete(m.id);
    if (m.kind === 'reply') o.resolve(m.value);
    else o.reject(new WorkerError(m.message, m.detail, m.msg));
  }

  /** Fail every open request and start a fresh worker on the next one. */
  private crash(why: Message): void {
    const m = msg('worker.crashed', { why });
    const message = englishOf(m);
    this.worker?.terminate();
    this.worker = null;
    const open = [...this.open.values()];
    this.open.clear();
    for (const o of open) o.reject(new WorkerError(message, undefined, m));
    this.hooks.onCrash?.(message, m);
  }
}

/** A handler's result with the buffers to transfer rather than copy. */
export class Transfer<T> {
  constructor(readonly value: T, readonly transfer: Transferable[]) {}
}

export interface HandlerContext<E> {
  /** Report progress of this request. */
  emit(event: E, transfer?: Transferable[]): void;
}

export type Handlers<P extends Protocol> = {
  [K in keyof P & string]: (req: RequestOf<P, K>, ctx: HandlerContext<EventOf<P, K>>) => Promise<P[K]['res'] | Transfer<P[K]['res']>> | P[K]['res'] | Transfer<P[K]['res']>;
};

/** What a failed handler reports besides its message (e.g. the data worker's stage and position). */
export class HandlerError extends Error {
  readonly msg: Message;
  constructor(message: string | Message, readonly detail: unknown) {
    super(typeof message === 'string' ? message : englishOf(message));
    this.msg = typeof message === 'string' ? uncoded(message) : message;
  }
}

interface Port {
  postMessage(m: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
}

/**
 * The worker's side: dispatch each request to its handler (concurrently: a `stop` must reach a
 * running `start`), and answer it exactly once.
 */
export function serve<P extends Protocol, B = never>(handlers: Handlers<P>, port: Port = self as unknown as Port): { broadcast(event: B): void } {
  const post = (m: FromWorker<P, B>, transfer: Transferable[] = []) => port.postMessage(m, transfer);
  port.onmessage = (ev: MessageEvent<AnyRequest<P>>) => {
    const req = ev.data;
    const id = req.id;
    const handler = handlers[req.type as keyof P & string] as (r: unknown, c: HandlerContext<unknown>) => unknown;
    const ctx: HandlerContext<unknown> = { emit: (event, transfer) => post({ kind: 'event', id, event: event as EventOf<P, keyof P> }, transfer) };
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`this worker has no request "${String(req.type)}"`); // a programmer's error
        return handler(req, ctx);
      })
      .then(
        (out) => {
          if (out instanceof Transfer) post({ kind: 'reply', id, value: out.value }, out.transfer);
          else post({ kind: 'reply', id, value: out as P[keyof P]['res'] });
        },
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          post({ kind: 'fail', id, message, msg: messageOfError(err), detail: err instanceof HandlerError ? err.detail : undefined });
        },
      );
  };
  return { broadcast: (event) => post({ kind: 'broadcast', event }) };
}

/**
 * Test harness for the worker protocol: drives createEngineHost in Node (the same handler
 * worker.ts installs) and collects what it posts. Shared by host.test.ts and hostGeneration.test.ts.
 */
import { acquireNodeDevice } from '../gpu/node-device';
import { createEngineHost } from './host';
import type { FromEngine, ToEngine } from './protocol';

/** A request without its id (Omit distributed over the union). */
export type Request = ToEngine extends infer U ? (U extends unknown ? Omit<U, 'id'> : never) : never;

export function hostHarness() {
  const got: FromEngine[] = [];
  const waiters: { pred: (m: FromEngine) => boolean; resolve: (m: FromEngine) => void }[] = [];
  const handle = createEngineHost((m) => {
    got.push(m);
    for (const w of [...waiters]) if (w.pred(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  }, acquireNodeDevice);
  /** The first message (already posted or still to come) that matches. */
  const next = (pred: (m: FromEngine) => boolean) => {
    const seen = got.find(pred);
    return seen ? Promise.resolve(seen) : new Promise<FromEngine>((resolve) => waiters.push({ pred, resolve }));
  };
  let id = 0;
  /** Sends a request; `answer` resolves with its final answer (not its streamed 'token' events). */
  const start = (msg: Request) => {
    const m = { ...msg, id: ++id } as ToEngine;
    const answer = next((r) => 'id' in r && r.id === m.id && r.type !== 'token');
    void handle(m);
    return { id: m.id, answer };
  };
  return { got, next, start, request: (msg: Request) => start(msg).answer };
}

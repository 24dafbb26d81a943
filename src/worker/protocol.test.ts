// The one worker convention (protocol.ts): a client and a server over a real MessageChannel.
import { describe, expect, it } from 'vitest';
import { HandlerError, SUPERSEDED, Transfer, WorkerClient, WorkerError, isSuperseded, serve } from './protocol';

type Proto = {
  add: { req: { a: number; b: number }; res: number };
  count: { req: { to: number }; res: string; event: { at: number } };
  fail: { req: { detail: boolean }; res: void };
  bytes: { req: { n: number }; res: Uint8Array };
  hang: { req: object; res: void };
};

/** A Worker stand-in whose other end runs `serve`. */
function connect(hooks: ConstructorParameters<typeof WorkerClient<Proto, string>>[1] = {}) {
  const { port1, port2 } = new MessageChannel();
  const server = serve<Proto, string>(
    {
      add: ({ a, b }) => a + b,
      count: async ({ to }, ctx) => {
        for (let i = 1; i <= to; i++) ctx.emit({ at: i });
        return `counted to ${to}`;
      },
      fail: ({ detail }) => {
        throw detail ? new HandlerError('bad input', { line: 3 }) : new Error('plain failure');
      },
      bytes: ({ n }) => {
        const b = new Uint8Array(n).fill(7);
        return new Transfer(b, [b.buffer]);
      },
      hang: () => new Promise<void>(() => undefined),
    },
    port2 as unknown as Parameters<typeof serve>[1],
  );
  const fake = {
    postMessage: (m: unknown, t: Transferable[]) => port1.postMessage(m, t),
    set onmessage(f: (ev: MessageEvent) => void) {
      port1.onmessage = f;
    },
    onerror: null as ((ev: { message: string; preventDefault(): void }) => void) | null,
    onmessageerror: null,
    terminate: () => port1.close(),
  };
  const client = new WorkerClient<Proto, string>(() => fake as unknown as Worker, hooks);
  return { client, fake, server, close: () => (port1.close(), port2.close()) };
}

describe('worker protocol', () => {
  it('a request resolves with its handler result; events arrive before the reply', async () => {
    const { client, close } = connect();
    expect(await client.request('add', { a: 2, b: 3 })).toBe(5);
    const seen: number[] = [];
    expect(await client.request('count', { to: 3 }, { onEvent: (e) => seen.push(e.at) })).toBe('counted to 3');
    expect(seen).toEqual([1, 2, 3]);
    expect(client.pending).toBe(0);
    close();
  });

  it('a throwing handler rejects with a WorkerError carrying its message and detail', async () => {
    const { client, close } = connect();
    const a = await client.request('fail', { detail: true }).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(WorkerError);
    expect((a as WorkerError).message).toBe('bad input');
    expect((a as WorkerError).detail).toEqual({ line: 3 });
    const b = await client.request('fail', { detail: false }).catch((e: unknown) => e);
    expect((b as WorkerError).message).toBe('plain failure');
    expect((b as WorkerError).detail).toBeUndefined();
    expect(isSuperseded(b)).toBe(false);
    expect(isSuperseded(new WorkerError('x', SUPERSEDED))).toBe(true);
    close();
  });

  it('an unknown request type fails instead of hanging', async () => {
    const { client, close } = connect();
    await expect((client as unknown as WorkerClient<{ nope: { req: object; res: void } }>).request('nope', {})).rejects.toThrow(/no request "nope"/);
    close();
  });

  it('a request field named like the envelope (id, type) is refused, not silently overwritten', async () => {
    const { client, close } = connect();
    await expect(client.request('add', { a: 1, b: 2, id: 'mine' } as unknown as { a: number; b: number })).rejects.toThrow(/field named id or type/);
    close();
  });

  it('results can transfer their buffers', async () => {
    const { client, close } = connect();
    const b = await client.request('bytes', { n: 16 });
    expect(b).toBeInstanceOf(Uint8Array);
    expect(Array.from(b)).toEqual(new Array(16).fill(7));
    close();
  });

  it('broadcasts reach the hook', async () => {
    const got: string[] = [];
    const { client, server, close } = connect({ onBroadcast: (e) => got.push(e) });
    await client.request('add', { a: 0, b: 0 }); // starts the worker
    server.broadcast('device lost');
    await expect.poll(() => got).toEqual(['device lost']);
    close();
  });

  it('a crashed worker fails every open request with a message, and tells the crash hook', async () => {
    const crashes: string[] = [];
    const { client, fake, close } = connect({ onCrash: (m) => crashes.push(m) });
    const a = client.request('hang', {});
    const b = client.request('hang', {});
    expect(client.pending).toBe(2);
    fake.onerror?.({ message: 'out of memory', preventDefault: () => undefined });
    await expect(a).rejects.toThrow(/The worker stopped: out of memory\. Reload the page if this repeats\./);
    await expect(b).rejects.toBeInstanceOf(WorkerError);
    expect(client.pending).toBe(0);
    expect(crashes).toHaveLength(1);
    close();
  });
});

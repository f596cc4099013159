// A DevTools-protocol session with a child started with `--inspect=127.0.0.1:0`, for memory readings
// that mean something: a full GC first, so RSS and heap hold what is retained, not garbage not yet
// collected. Close the session before stopping the child: node waits for attached debuggers on exit.
import { once } from 'node:events';
import WebSocket from 'ws';

/** What node prints on stderr when it starts with --inspect. */
export const INSPECTOR_PATTERN = /Debugger listening on (ws:\/\/\S+)/;

export interface HeapUsage {
  usedSize: number;
  totalSize: number;
}

export async function openInspector(url: string) {
  const socket = new WebSocket(url);
  await once(socket, 'open');
  let nextId = 1;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter || message.id === undefined) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });

  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });

  return {
    /** A full, synchronous collection in the child. */
    async collectGarbage(): Promise<void> {
      await call('HeapProfiler.collectGarbage');
    },
    async heapUsage(): Promise<HeapUsage> {
      return (await call('Runtime.getHeapUsage')) as HeapUsage;
    },
    /** Starts sampling the child's CPU (V8's profiler), for one phase of a bench rather than the whole run. */
    async startCpuProfile(): Promise<void> {
      await call('Profiler.enable');
      await call('Profiler.start');
    },
    /** The profile since startCpuProfile, as V8's .cpuprofile JSON. */
    async stopCpuProfile(): Promise<unknown> {
      const { profile } = (await call('Profiler.stop')) as { profile: unknown };
      return profile;
    },
    async close(): Promise<void> {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close();
      await once(socket, 'close');
    },
  };
}

export type Inspector = Awaited<ReturnType<typeof openInspector>>;

// The long-lived things an API key holds open on this instance: WebSocket connections, SSE
// subscriptions and MCP calls waiting for a task. One cap counts all three, and revoking the key
// ends every one of them at once.

/** Ends one stream; called once, when its key is revoked. */
export type EndStream = () => void;

export interface KeyStreams {
  /**
   * Counts a new stream of `keyId` and returns its release (idempotent), or null when the key holds
   * `maxPerKey` streams already. `end` is called if the key is revoked while the stream is open.
   */
  acquire(keyId: string, end: EndStream): (() => void) | null;
  /** Ends every open stream of `keyId` (its key was revoked, here or on another instance). */
  revoked(keyId: string): void;
  /** Open streams of `keyId`. */
  count(keyId: string): number;
  readonly maxPerKey: number;
}

export function createKeyStreams({ maxPerKey }: { maxPerKey: number }): KeyStreams {
  const open = new Map<string, Set<EndStream>>();

  return {
    maxPerKey,
    acquire(keyId, end) {
      let streams = open.get(keyId);
      if ((streams?.size ?? 0) >= maxPerKey) return null;
      if (!streams) open.set(keyId, (streams = new Set()));
      // A wrapper of its own, so the same `end` function acquired twice counts twice.
      const entry: EndStream = () => end();
      streams.add(entry);
      const held = streams;
      return () => {
        if (!held.delete(entry)) return;
        if (held.size === 0 && open.get(keyId) === held) open.delete(keyId);
      };
    },
    revoked(keyId) {
      const streams = open.get(keyId);
      if (!streams) return;
      open.delete(keyId);
      for (const end of [...streams]) {
        try {
          end();
        } catch {
          // One stream failing to end must not keep the others open.
        }
      }
    },
    count(keyId) {
      return open.get(keyId)?.size ?? 0;
    },
  };
}

/** The error text a stream over the cap gets, whatever its transport. */
export function tooManyStreamsMessage(maxPerKey: number): string {
  return `Too many open streams for this API key: at most ${maxPerKey} WebSocket connections, SSE subscriptions and waiting MCP calls together.`;
}

/**
 * One refresh at a time across every tab of an origin.
 *
 * With Web Locks (navigator.locks) a refresh runs inside an exclusive lock
 * named for the issuer and client. A tab that had to wait for the lock was
 * beaten to it: it first looks for the winner's tokens, handed over on a
 * BroadcastChannel, and refreshes only if none come. Without Web Locks the
 * tabs claim the refresh on the channel and the earliest claim wins. Either
 * way a rare leftover race is harmless: the issuer answers a replay inside
 * its grace window with the same successor.
 */

/** The part of BroadcastChannel the client uses. */
export interface Channel {
  postMessage(message: unknown): void;
  onmessage: ((ev: MessageEvent) => void) | null;
  close(): void;
}

/** The part of the Web Locks API the client uses. */
export interface Locks {
  request<T>(name: string, options: { ifAvailable?: boolean }, cb: (lock: unknown) => Promise<T>): Promise<T>;
  request<T>(name: string, cb: (lock: unknown) => Promise<T>): Promise<T>;
}

/** Runs fn exclusively; contended tells fn that another tab went first. */
export type Coordinator = <T>(fn: (contended: boolean) => Promise<T>) => Promise<T>;

/** Exclusive runs under a Web Lock. */
export function lockCoordinator(locks: Locks, name: string): Coordinator {
  return (fn) =>
    locks.request(name, { ifAvailable: true }, async (lock) =>
      lock ? fn(false) : locks.request(name, () => fn(true)),
    );
}

/** Message types on the channel. */
export interface ClaimMessage {
  t: "claim" | "release";
  id: string;
  at: number;
}

/**
 * Claims on the channel, for browsers without Web Locks: announce, wait
 * `settle` ms for earlier claims, and if one exists wait (up to `wait` ms)
 * for its release before running as contended.
 */
export function claimCoordinator(
  post: (m: ClaimMessage) => void,
  listen: (f: (m: ClaimMessage) => void) => () => void,
  now: () => number,
  settle = 50,
  wait = 10_000,
): Coordinator {
  const id = Math.random().toString(36).slice(2);
  return async (fn) => {
    const mine = { t: "claim" as const, id, at: now() };
    let earlier: string | undefined;
    let released: () => void = () => {};
    const releasedP = new Promise<void>((r) => (released = r));
    const stop = listen((m) => {
      if (m.t === "claim" && m.id !== id && (m.at < mine.at || (m.at === mine.at && m.id < id))) earlier ??= m.id;
      if (m.t === "release" && m.id === earlier) released();
    });
    post(mine);
    await sleep(settle);
    try {
      if (earlier === undefined) return await fn(false);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([releasedP, new Promise((r) => (timer = setTimeout(r, wait)))]);
      clearTimeout(timer);
      return await fn(true);
    } finally {
      stop();
      post({ t: "release", id, at: now() });
    }
  };
}

/** A coordinator for one tab: in-tab single flight is all there is. */
export const soloCoordinator: Coordinator = (fn) => fn(false);

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

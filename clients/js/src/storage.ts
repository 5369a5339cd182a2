/**
 * Where header mode keeps the refresh token. The access token is never
 * stored: it lives in memory only. Methods may return promises, so an
 * adapter can sit on IndexedDB or a native bridge.
 */
export interface TokenStorage {
  get(key: string): string | null | Promise<string | null>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/**
 * Keeps the refresh token in this page's memory: gone on reload, so a
 * reload asks another open tab for tokens or signs the user in again. An
 * XSS can use the session while it runs but finds nothing stored.
 */
export function memoryStorage(): TokenStorage {
  const m = new Map<string, string>();
  return {
    get: (k) => m.get(k) ?? null,
    set: (k, v) => void m.set(k, v),
    remove: (k) => void m.delete(k),
  };
}

/**
 * Keeps the refresh token in Web Storage: `localStorage` survives reloads
 * and is shared by every tab; `sessionStorage` lives as long as the tab.
 * Any script on the origin, an XSS included, can read it: prefer cookie
 * mode when the app and the issuer share a site.
 */
export function webStorage(store: Storage): TokenStorage {
  return {
    get: (k) => store.getItem(k),
    set: (k, v) => store.setItem(k, v),
    remove: (k) => store.removeItem(k),
  };
}

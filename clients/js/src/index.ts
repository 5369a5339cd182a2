/**
 * @waxseal/client: sign in to a waxseal issuer from a browser app and call
 * APIs with `Authorization: Bearer`, refreshing ahead of expiry, once for
 * all tabs, and signing out everywhere when the session ends.
 *
 * ```ts
 * const auth = createClient({ issuer: "https://auth.example.com", clientId: "notes-web", mode: "cookie" });
 * auth.onChange((event, session, reason) => render(session, reason));
 * await auth.login(user, password);
 * const notes = await (await auth.fetch("https://api.example.com/notes")).json();
 * ```
 */
import { Client, type ClientOptions } from "./client.js";

export { Client };
export type { ClientOptions, Session, SessionInfo, AuthEvent, Listener, SignOutReason, PendingRedirect } from "./client.js";
export { AuthError } from "./errors.js";
export type { UnverifiedClaims } from "./jwt.js";
export { memoryStorage, webStorage, type TokenStorage } from "./storage.js";
export type { RedirectOptions } from "./redirect.js";
export type { Channel, Locks } from "./coordinate.js";

/** Returns a client for one issuer and app. */
export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

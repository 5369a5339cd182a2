/**
 * Claims read from an access token without checking its signature. They
 * are for the user interface only (a name, a role to show a button, the
 * expiry); services verify tokens themselves and never trust these.
 */
export interface UnverifiedClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  jti?: string;
  sid?: string;
  client_id?: string;
  scope?: string;
  roles?: string[];
  [name: string]: unknown;
}

/** Decodes a compact JWT's payload, or returns null if it is not one. */
export function decodeClaims(jwt: string): UnverifiedClaims | null {
  const part = jwt.split(".")[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const json = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    const v: unknown = JSON.parse(json);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as UnverifiedClaims) : null;
  } catch {
    return null;
  }
}

/** base64url without padding. */
export function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

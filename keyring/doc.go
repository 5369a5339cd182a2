// Package keyring holds an issuer's signing keys: it makes them, moves them
// through their lifecycle, keeps them sealed in a Store, and publishes their
// public halves as a JWKS.
//
// Verifiers cache the JWKS, so a key must be known before it is used and
// trusted until nothing it signed is still valid. Every key therefore goes
// through the same states:
//
//   - pending: published, not yet signing. A key waits Config.PublishLead,
//     at least the verifiers' JWKS cache lifetime, so that every verifier
//     has it before the first token it signs arrives.
//   - active: signs for Config.ActivePeriod, until its successor takes over.
//   - verifying: published only, for Config.MaxTokenTTL after it stopped
//     signing, so every token it signed verifies until it expires.
//   - retired: gone from the JWKS; its private key is forgotten.
//
// A key declared compromised skips the rest: it leaves the JWKS, and the
// issuer stops signing with it, at once. Tokens it signed stop verifying at
// the issuer at once and at verifiers when their cached JWKS expires.
//
// The first key an issuer makes signs at once: nothing was published before,
// so no cache needs waiting for. RotateNow and the replacement of a
// compromised signer sign at once too: there, waiting would be worse than
// verifiers refetching the JWKS on an unknown kid.
//
// A Ring saves every change to its Store before acting on it. Private keys
// are stored only sealed with AES-256-GCM under a key derived from the
// MasterKey, and the seal binds each key to its record's kid and algorithm.
// HS256 keys go through the same lifecycle but are never published: they
// serve an issuer that verifies its own tokens.
package keyring

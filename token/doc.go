// Package token mints and verifies waxseal access tokens: JWTs in the
// RFC 9068 profile, as compact JWS only.
//
// Verification is strict in the ways RFC 8725 asks: a size cap before any
// decoding, exactly three canonical base64url parts, header and claims read
// with exact member names and no duplicates, NumericDates as JSON numbers, an
// explicit "typ" of at+jwt, no critical extensions, a key found only by
// "kid" in a KeySource the caller chose and never from the token itself, and
// the algorithm of that key rather than the one the token names. exp is
// required; nbf and iat are checked with a bounded leeway; iss and aud must
// match exactly.
//
// A Verifier caches tokens that passed, so a token seen again costs a map
// lookup; revocation is still asked on every call.
package token

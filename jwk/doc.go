// Package jwk holds the keys that seal and check waxseal access tokens and
// their JSON Web Key form (RFC 7517).
//
// Every key is bound to exactly one JWS algorithm when it is made, and a
// token's "alg" header must name that algorithm: the algorithm comes from the
// key, never from the token (RFC 8725 §3.1). A PublicKey can only verify and a
// PrivateKey can only be reached through the issuer's key ring, so a public
// key cannot be passed where a signing key belongs.
//
// Key IDs are RFC 7638 thumbprints, so the same key material always has the
// same "kid" wherever it is published.
package jwk

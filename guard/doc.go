// Package guard checks bearer access tokens on every instance of a service,
// locally: keys come from the issuer's JWKS, revocations from its feed, and
// no request waits on the network.
package guard

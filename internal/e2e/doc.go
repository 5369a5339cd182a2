// Package e2e runs waxseal's parts together, as a deployment does: an
// issuer, guards following its revocation feed over a network that fails,
// and several instances of a guarded service behind a load balancer. It
// holds only tests; issuertest, beside it, starts the issuer they share.
package e2e

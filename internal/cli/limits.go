package cli

import (
	"context"
	"flag"
	"fmt"
	"net/netip"

	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/ratelimit"
)

// limitFlags are serve's brute-force limits: for each kind of bucket, how
// many attempts at once (burst) and then one per how long (every).
type limitFlags struct {
	account, network, client policyFlags
}

type policyFlags struct {
	name   string
	policy ratelimit.Policy // the default; MaxPenalty is kept
	burst  *int
	every  *durationFlag
}

func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	l := &limitFlags{
		account: policyFlags{name: "account", policy: ratelimit.AccountPolicy},
		network: policyFlags{name: "network", policy: ratelimit.IPPolicy},
		client:  policyFlags{name: "client", policy: ratelimit.ClientPolicy},
	}
	for _, p := range []struct {
		f    *policyFlags
		what string
	}{
		{&l.account, "password attempts per account (every attempt counts; a correct password refills)"},
		{&l.network, "failed passwords and client secrets, and signups, per client network (IPv4 address or IPv6 /64)"},
		{&l.client, "failed client authentications per client ID"},
	} {
		p.f.burst = fs.Int("limit-"+p.f.name+"-burst", p.f.policy.Burst, p.what+": how many at once")
		p.f.every = &durationFlag{d: p.f.policy.Refill}
		fs.Var(p.f.every, "limit-"+p.f.name+"-every", p.what+": then one per this long")
	}
	return l
}

func (p *policyFlags) get() (ratelimit.Policy, error) {
	pol := p.policy
	pol.Burst, pol.Refill = *p.burst, p.every.d
	if err := pol.Validate(); err != nil {
		return pol, fmt.Errorf("--limit-%s-burst, --limit-%s-every: %w", p.name, p.name, err)
	}
	return pol, nil
}

// open returns the issuer's brute-force limits: in Redis when url is set,
// so they hold across instances, else in memory.
func (l *limitFlags) open(ctx context.Context, url string, proxies []string) (issuer.Limits, func(), error) {
	var lim issuer.Limits
	for _, p := range proxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, err2 := netip.ParseAddr(p)
			if err2 != nil {
				return lim, nil, fmt.Errorf("--trusted-proxy %q: %w", p, err)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		lim.TrustedProxies = append(lim.TrustedProxies, prefix.Masked())
	}
	acct, err := l.account.get()
	if err != nil {
		return lim, nil, err
	}
	network, err := l.network.get()
	if err != nil {
		return lim, nil, err
	}
	client, err := l.client.get()
	if err != nil {
		return lim, nil, err
	}
	if url == "" {
		lim.Account, lim.IP, lim.Client = ratelimit.NewMemory(acct), ratelimit.NewMemory(network), ratelimit.NewMemory(client)
		return lim, func() {}, nil
	}
	rc, err := ratelimit.OpenRedis(ctx, url)
	if err != nil {
		return lim, nil, err
	}
	lim.Account = ratelimit.NewRedis(rc, "waxseal:limit:acct:", acct)
	lim.IP = ratelimit.NewRedis(rc, "waxseal:limit:ip:", network)
	lim.Client = ratelimit.NewRedis(rc, "waxseal:limit:client:", client)
	return lim, func() { rc.Close() }, nil
}

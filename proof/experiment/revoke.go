package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/report"
	"gonum.org/v1/plot/plotter"
)

// RevocationResult is, per mode, the time from a logout's answer until
// the credential is refused by every instance.
type RevocationResult struct {
	Mode          cluster.Mode
	Rounds        int
	AcceptedOn    float64 // instances that accepted the credential before the logout, on average
	Instances     int
	Times         []time.Duration
	P50, P99, Max time.Duration
	NeverRefused  int // rounds where some instance still accepted it after 10 s
}

func runRevocation(ctx context.Context, env *cluster.Env, o Options, res *Results) error {
	all := map[cluster.Mode]*RevocationResult{}
	for _, m := range cluster.Modes {
		r, err := revocationRun(ctx, env, o, m)
		if err != nil {
			return err
		}
		o.Logf("  %s: accepted on %.1f of %d instances; refused everywhere p50 %s ms, max %s ms", m, r.AcceptedOn, r.Instances, ms(r.P50), ms(r.Max))
		all[m] = r
	}
	res.Revocation = all
	return writeRevocation(o, res)
}

// probe is a client from one loopback address.
func probe(ip net.IP) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext, MaxIdleConnsPerHost: 4}}
}

func status(c *http.Client, method, u string, hdr http.Header, body string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, data, nil
}

// login returns the credential header of a fresh login in mode m.
func login(c *http.Client, env *cluster.Env, lb string, m cluster.Mode, name string) (http.Header, error) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if m == cluster.Waxseal {
		st, _, body, err := status(c, "POST", env.Issuer.URL+"/token", form,
			url.Values{"grant_type": {"password"}, "username": {name}, "password": {env.Password}}.Encode())
		if err != nil || st != 200 {
			return nil, fmt.Errorf("login %s: %d %v %s", name, st, err, body)
		}
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(body, &tr)
		return http.Header{"Authorization": {"Bearer " + tr.AccessToken}}, nil
	}
	st, h, body, err := status(c, "POST", lb+"/login", form, url.Values{"username": {name}, "password": {env.Password}}.Encode())
	if err != nil || st != 200 {
		return nil, fmt.Errorf("login %s: %d %v %s", name, st, err, body)
	}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == "session" {
			return http.Header{"Cookie": {"session=" + ck.Value}}, nil
		}
	}
	return nil, fmt.Errorf("login %s: no session cookie", name)
}

func revocationRun(ctx context.Context, env *cluster.Env, o Options, m cluster.Mode) (*RevocationResult, error) {
	c, err := env.StartCluster(ctx, m, cluster.ClusterOptions{Instances: 3})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := &RevocationResult{Mode: m, Rounds: o.RevRounds, Instances: len(c.Instances)}
	accepted := 0
	for i := range o.RevRounds {
		ui := len(env.UserNames) - 1 - i%8
		cl := probe(cluster.UserIP(ui))
		cred, err := login(cl, env, c.LB.URL, m, env.UserNames[ui])
		if err != nil {
			return nil, err
		}
		for _, p := range c.Instances {
			if st, _, _, _ := status(cl, "GET", "http://"+p.Addr+"/notes", cred, ""); st == 200 {
				accepted++
			}
		}
		var st int
		if m == cluster.Waxseal {
			st, _, _, err = status(cl, "POST", env.Issuer.URL+"/v1/logout", cred, "")
		} else {
			st, _, _, err = status(cl, "POST", c.LB.URL+"/logout", cred, "")
		}
		if err != nil || st >= 300 {
			return nil, fmt.Errorf("logout: %d %v", st, err)
		}
		t0 := time.Now()
		refused := make([]bool, len(c.Instances))
		left := len(refused)
		var last time.Duration
		for left > 0 && time.Since(t0) < 10*time.Second {
			for j, p := range c.Instances {
				if refused[j] {
					continue
				}
				if st, _, _, _ := status(cl, "GET", "http://"+p.Addr+"/notes", cred, ""); st == 401 {
					refused[j] = true
					left--
					last = time.Since(t0)
				}
			}
		}
		if left > 0 {
			r.NeverRefused++
			continue
		}
		r.Times = append(r.Times, last)
	}
	r.AcceptedOn = float64(accepted) / float64(o.RevRounds)
	slices.Sort(r.Times)
	r.P50, r.P99 = percentile(r.Times, 0.5), percentile(r.Times, 0.99)
	if len(r.Times) > 0 {
		r.Max = r.Times[len(r.Times)-1]
	}
	return r, nil
}

func writeRevocation(o Options, res *Results) error {
	t := &report.Table{Name: "revocation", Header: []string{"mode", "logouts", "instances that accepted the credential before",
		"p50 until refused on every instance (ms)", "p99 (ms)", "max (ms)", "still accepted after 10 s"}}
	var raw [][]string
	var p50, mx plotter.XYs
	var cats []string
	for i, m := range cluster.Modes {
		r := res.Revocation[m]
		t.Add(m, r.Rounds, fmt.Sprintf("%.1f of %d", r.AcceptedOn, r.Instances), ms(r.P50), ms(r.P99), ms(r.Max), r.NeverRefused)
		for j, d := range r.Times {
			raw = append(raw, []string{string(m), fmt.Sprint(j), fmt.Sprintf("%.3f", float64(d)/1e6)})
		}
		cats = append(cats, string(m))
		p50 = append(p50, plotter.XY{X: float64(i), Y: float64(r.P50) / 1e6})
		mx = append(mx, plotter.XY{X: float64(i), Y: float64(r.Max) / 1e6})
	}
	res.Tables = append(res.Tables, t)
	dir := outDir(o)
	if err := t.WriteCSV(dir); err != nil {
		return err
	}
	if err := report.WriteCSV(dir+"/revocation-rounds.csv", []string{"mode", "round", "ms_until_refused_everywhere"}, raw); err != nil {
		return err
	}
	return report.Bars(dir, "revocation", "Logout until the credential is refused by all 3 instances",
		"time after the logout's answer (ms)", cats, []report.Series{{Name: "median", XY: p50}, {Name: "maximum", XY: mx}})
}

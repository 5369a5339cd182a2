// Package load simulates the users of the notes API: each logs in, then
// reads, writes and deletes notes with a think time between requests,
// refreshes its access token before it expires (waxseal mode), and logs in
// again when the service refuses its credential. Every request is recorded
// with its time, latency and outcome.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waxseal/waxseal/proof/cluster"
)

// Kind is what a recorded request did.
type Kind uint8

// Kinds of request.
const (
	Read    Kind = iota // GET /notes
	Write               // POST /notes
	Delete              // DELETE /notes/{id}
	Login               // a password login (issuer /token or the app's /login)
	Refresh             // a refresh-token grant at the issuer
)

var kindNames = [...]string{"read", "write", "delete", "login", "refresh"}

func (k Kind) String() string { return kindNames[k] }

// API reports whether the request went to the notes API (not a login or
// refresh).
func (k Kind) API() bool { return k <= Delete }

// Event is one request.
type Event struct {
	At      time.Duration // when it started, since the run started
	Latency time.Duration
	User    int
	Kind    Kind
	Status  int  // 0: no answer (connection refused, reset, timeout)
	Forced  bool // a login the user did because a credential was refused
}

// OK reports a 2xx answer.
func (e Event) OK() bool { return e.Status >= 200 && e.Status < 300 }

// Failed reports no answer or a server-side error: the request did not do
// what the user asked, through no fault of the user's credential.
func (e Event) Failed() bool { return e.Status == 0 || e.Status >= 500 }

// Config of a run.
type Config struct {
	Mode     cluster.Mode
	LB       string // the notes API, behind nginx
	Issuer   string // waxseal mode: the issuer
	Users    []string
	FirstIP  int // user i sends from cluster.UserIP(FirstIP+i)
	Password string
	// Think is the mean pause between a user's requests (exponentially
	// distributed); zero runs each user as fast as answers come.
	Think time.Duration
	// WriteShare and DeleteShare are the fractions of requests that add or
	// delete a note; the rest read.
	WriteShare, DeleteShare float64
	// RefreshAhead is how long before expiry a token is refreshed, as
	// golang.org/x/oauth2 does (10 s there).
	RefreshAhead time.Duration
	Timeout      time.Duration // per request; zero means 5 s
	// Spread is the time over which the users' first logins are spread;
	// zero means one second.
	Spread time.Duration
}

// Run is a load run in progress.
type Run struct {
	Start             time.Time
	cfg               Config
	cancel            context.CancelFunc
	wg                sync.WaitGroup
	users             []*user
	apiOut, apiIn     atomic.Int64 // bytes on the wire to and from the API
	authOut, authIn   atomic.Int64 // to and from the issuer
	apiReqs, authReqs atomic.Int64
}

// Start starts the users; they log in at once and run until Stop.
func Start(ctx context.Context, cfg Config) *Run {
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Run{Start: time.Now(), cfg: cfg, cancel: cancel}
	for i, name := range cfg.Users {
		u := newUser(r, i, name)
		r.users = append(r.users, u)
		r.wg.Go(func() { u.run(ctx) })
	}
	return r
}

// Stop ends the run and returns every request, in order of start.
func (r *Run) Stop() []Event {
	r.cancel()
	r.wg.Wait()
	var all []Event
	for _, u := range r.users {
		all = append(all, u.events...)
	}
	slices.SortFunc(all, func(a, b Event) int { return int(a.At - b.At) })
	return all
}

// LoggedIn counts users holding a credential now.
func (r *Run) LoggedIn() int {
	n := 0
	for _, u := range r.users {
		if u.live.Load() {
			n++
		}
	}
	return n
}

// Wire is bytes on the wire per request, both ways, counted at the
// client's sockets (HTTP/1.1 headers and bodies; no TCP/IP overhead).
type Wire struct {
	APIRequests, AuthRequests int64
	APIOut, APIIn             int64
	AuthOut, AuthIn           int64
}

// Wire returns the byte counts so far.
func (r *Run) Wire() Wire {
	return Wire{r.apiReqs.Load(), r.authReqs.Load(), r.apiOut.Load(), r.apiIn.Load(), r.authOut.Load(), r.authIn.Load()}
}

type user struct {
	r               *Run
	i               int
	name            string
	api, auth       *http.Client
	rng             *rand.Rand
	events          []Event
	access, refresh string
	exp             time.Time
	cookie          string
	ids             []int64
	loggedIn        bool
	live            atomic.Bool // loggedIn, for LoggedIn
}

// countingConn counts the bytes a connection carries.
type countingConn struct {
	net.Conn
	out, in *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

func client(ip net.IP, out, in *atomic.Int64, timeout time.Duration) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 2 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &countingConn{Conn: c, out: out, in: in}, nil
			},
			MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute, DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newUser(r *Run, i int, name string) *user {
	ip := cluster.UserIP(r.cfg.FirstIP + i)
	return &user{
		r: r, i: i, name: name,
		api:  client(ip, &r.apiOut, &r.apiIn, r.cfg.Timeout),
		auth: client(ip, &r.authOut, &r.authIn, r.cfg.Timeout),
		rng:  rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))),
	}
}

func (u *user) record(start time.Time, k Kind, status int, forced bool) {
	u.events = append(u.events, Event{At: start.Sub(u.r.Start), Latency: time.Since(start), User: u.i, Kind: k, Status: status, Forced: forced})
}

func (u *user) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (u *user) think() time.Duration {
	if u.r.cfg.Think <= 0 {
		return 0
	}
	return time.Duration(u.rng.ExpFloat64() * float64(u.r.cfg.Think))
}

func (u *user) run(ctx context.Context) {
	// Spread the first logins over a second, as users do not all arrive at once.
	spread := u.r.cfg.Spread
	if spread <= 0 {
		spread = time.Second
	}
	if !u.pause(ctx, time.Duration(u.rng.Int64N(int64(spread)))) {
		return
	}
	forced := false
	for ctx.Err() == nil {
		if !u.loggedIn {
			if !u.login(ctx, forced) {
				u.pause(ctx, 200*time.Millisecond+time.Duration(u.rng.Int64N(int64(300*time.Millisecond))))
				continue
			}
			forced = false
		}
		if !u.pause(ctx, u.think()) {
			return
		}
		if u.r.cfg.Mode == cluster.Waxseal && time.Until(u.exp) < u.r.cfg.RefreshAhead {
			switch u.doRefresh(ctx) {
			case refreshRefused:
				u.loggedIn, forced = false, true
				u.live.Store(false)
				continue
			case refreshFailed:
				if time.Now().After(u.exp) {
					// Nothing valid to send: the request the user wanted
					// fails without reaching the API.
					u.record(time.Now(), Read, 0, false)
					continue
				}
			}
		}
		if status := u.call(ctx); status == http.StatusUnauthorized {
			u.loggedIn, forced = false, true
			u.live.Store(false)
		}
	}
}

func (u *user) do(ctx context.Context, c *http.Client, req *http.Request, into any) (int, http.Header) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	if into != nil && resp.StatusCode < 300 {
		if json.NewDecoder(resp.Body).Decode(into) != nil {
			io.Copy(io.Discard, resp.Body)
		}
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, resp.Header
}

func (u *user) login(ctx context.Context, forced bool) bool {
	start := time.Now()
	var status int
	if u.r.cfg.Mode == cluster.Waxseal {
		form := url.Values{"grant_type": {"password"}, "username": {u.name}, "password": {u.r.cfg.Password}}
		status = u.token(ctx, form, time.Now())
	} else {
		req, _ := http.NewRequest(http.MethodPost, u.r.cfg.LB+"/login",
			strings.NewReader(url.Values{"username": {u.name}, "password": {u.r.cfg.Password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u.r.authReqs.Add(1)
		var h http.Header
		status, h = u.do(ctx, u.auth, req, nil)
		if status == http.StatusOK {
			u.takeCookie(h)
		}
	}
	if ctx.Err() != nil {
		return false
	}
	u.record(start, Login, status, forced)
	u.loggedIn = status == http.StatusOK
	u.live.Store(u.loggedIn)
	return u.loggedIn
}

// token posts a grant to the issuer and keeps the tokens it returns.
func (u *user) token(ctx context.Context, form url.Values, asked time.Time) int {
	req, _ := http.NewRequest(http.MethodPost, u.r.cfg.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	u.r.authReqs.Add(1)
	status, _ := u.do(ctx, u.auth, req, &tr)
	if status == http.StatusOK {
		u.access, u.refresh = tr.AccessToken, tr.RefreshToken
		u.exp = asked.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return status
}

type refreshResult int

const (
	refreshed refreshResult = iota
	refreshFailed
	refreshRefused
)

func (u *user) doRefresh(ctx context.Context) refreshResult {
	start := time.Now()
	status := u.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {u.refresh}}, start)
	if ctx.Err() != nil {
		return refreshFailed
	}
	u.record(start, Refresh, status, false)
	switch {
	case status == http.StatusOK:
		return refreshed
	case status == http.StatusBadRequest || status == http.StatusUnauthorized:
		return refreshRefused // invalid_grant: the session is gone
	default:
		return refreshFailed
	}
}

func (u *user) takeCookie(h http.Header) {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "session" {
			if c.MaxAge < 0 || c.Value == "" {
				u.cookie = ""
			} else {
				u.cookie = c.Value
			}
		}
	}
}

func (u *user) authorize(req *http.Request) {
	if u.r.cfg.Mode == cluster.Waxseal {
		req.Header.Set("Authorization", "Bearer "+u.access)
	} else if u.cookie != "" {
		req.Header.Set("Cookie", "session="+u.cookie)
	}
}

// call makes one API request and returns its status.
func (u *user) call(ctx context.Context) int {
	x := u.rng.Float64()
	var req *http.Request
	var k Kind
	switch {
	case x < u.r.cfg.DeleteShare && len(u.ids) > 0:
		k = Delete
		req, _ = http.NewRequest(http.MethodDelete, u.r.cfg.LB+"/notes/"+strconv.FormatInt(u.ids[0], 10), nil)
	case x < u.r.cfg.DeleteShare+u.r.cfg.WriteShare:
		k = Write
		body, _ := json.Marshal(map[string]string{"text": fmt.Sprintf("note %d of %s", u.rng.Int64N(1e9), u.name)})
		req, _ = http.NewRequest(http.MethodPost, u.r.cfg.LB+"/notes", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	default:
		k = Read
		req, _ = http.NewRequest(http.MethodGet, u.r.cfg.LB+"/notes", nil)
	}
	u.authorize(req)
	start := time.Now()
	u.r.apiReqs.Add(1)
	var created struct {
		ID int64 `json:"id"`
	}
	var into any
	if k == Write {
		into = &created
	}
	status, h := u.do(ctx, u.api, req, into)
	if ctx.Err() != nil {
		return 0
	}
	u.record(start, k, status, false)
	if h != nil && u.r.cfg.Mode != cluster.Waxseal {
		u.takeCookie(h)
	}
	switch {
	case k == Write && status == http.StatusCreated && created.ID > 0:
		u.ids = append(u.ids, created.ID)
	case k == Delete && (status == http.StatusNoContent || status == http.StatusNotFound):
		u.ids = u.ids[1:]
	}
	return status
}

package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/token"
)

const (
	crashPassword   = "tangerine submarine orchestra 42"
	crashRefreshers = 8
	crashRevokers   = 2
	// The workers run this long before one instance is killed, and this
	// long after.
	crashBefore = time.Second
	crashAfter  = 1500 * time.Millisecond
)

// TestKillOneInstance runs two issuer processes on one PostgreSQL database,
// with clients refreshing and revoking through both in turn, as behind a
// load balancer, and kills one with SIGKILL mid-run. A client that gets no
// answer resends the same request once to the other instance: for a refresh
// that is a retry with the same token, inside the grace window if the dead
// instance committed the rotation. Nothing the dead instance acknowledged
// may be lost, and no session may be broken by its death:
//
//   - every client carries on through the survivor, with no invalid_grant;
//   - every client's last acknowledged refresh token refreshes on the
//     survivor, and the access token it gets is accepted there;
//   - a retried refresh token yields the successor the retry returned,
//     whichever instance committed the rotation;
//   - every acknowledged revocation is in the survivor's feed, and the
//     revoked sessions' and tokens' credentials are refused there;
//   - no client's session was revoked as a reuse.
func TestKillOneInstance(t *testing.T) {
	waxsealBinary(t)
	db := pgtest.URL(t)
	keyFile := filepath.Join(t.TempDir(), "waxseal.key")
	runBinary(t, "", "migrate", "--database", db)
	runBinary(t, "", "keys", "init-master", "--master-key-file", keyFile)
	runBinary(t, "", "keys", "generate", "--database", db, "--master-key-file", keyFile)
	runBinary(t, crashPassword+"\n", "user", "add", "--database", db, "--password-stdin", "alice")
	flags := []string{"--issuer", "https://issuer.test", "--database", db, "--master-key-file", keyFile, "--metrics-listen", "127.0.0.1:0"}
	c := &cluster{t: t, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: crashRefreshers + crashRevokers},
	}}
	c.servers[0] = startServer(t, "a", flags...)
	c.servers[1] = startServer(t, "b", flags...)
	const victim, survivor = 0, 1
	c.victim = victim

	refreshers := make([]*refresher, crashRefreshers)
	revokers := make([]*revoker, crashRevokers)
	stop := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range refreshers {
		refreshers[i] = &refresher{worker: c.worker(fmt.Sprintf("refresher %d", i), i)}
		ready.Add(1)
		done.Add(1)
		go func() { defer done.Done(); refreshers[i].run(&ready, stop) }()
	}
	for i := range revokers {
		revokers[i] = &revoker{worker: c.worker(fmt.Sprintf("revoker %d", i), i)}
		done.Add(1)
		go func() { defer done.Done(); revokers[i].run(stop) }()
	}
	ready.Wait()
	time.Sleep(crashBefore)
	c.killed.Store(true)
	c.servers[victim].kill(t)
	time.Sleep(crashAfter)
	close(stop)
	done.Wait()
	if t.Failed() {
		return
	}
	// The survivor saw its peer die only through the clients and the
	// database; nothing of that is its own failure.
	for _, line := range c.servers[survivor].log.warnings() {
		t.Errorf("the survivor logged: %s", line)
	}

	// Before this test resends anything itself, every replay the survivor
	// counted is a client's retry that found the rotation committed by the
	// dead instance.
	var retries int
	for _, r := range refreshers {
		retries += len(r.retried)
	}
	t.Logf("%d retries after the kill; the dead instance had committed %s of them",
		retries, c.metric(survivor, `waxseal_issuer_refreshes_total{outcome="replayed"}`))

	for _, r := range refreshers {
		if r.ackedAfterKill == 0 || len(r.retried) == 0 {
			t.Errorf("%s: %d refreshes acknowledged after the kill, %d retries: it did not carry on through the survivor",
				r.name, r.ackedAfterKill, len(r.retried))
		}
		// A retried token still yields the successor that the retry got.
		for _, rot := range r.retried {
			a := c.mustSend(survivor, http.MethodPost, issuer.TokenPath, refreshForm(rot.sent), "")
			if a.Status != http.StatusOK || a.str("refresh_token") != rot.got {
				t.Errorf("%s: replaying the retried token: %d %s, want the successor the retry returned", r.name, a.Status, a.Raw)
			}
		}
		// The last acknowledged refresh token works, and so does what it
		// gives.
		a := c.mustSend(survivor, http.MethodPost, issuer.TokenPath, refreshForm(r.rt), "")
		if a.Status != http.StatusOK {
			t.Errorf("%s: last acknowledged refresh token (after %d refreshes): %d %s", r.name, r.acked, a.Status, a.Raw)
			continue
		}
		info := c.mustSend(survivor, http.MethodGet, issuer.UserinfoPath, nil, a.str("access_token"))
		if info.Status != http.StatusOK || info.str("sid") != r.sid {
			t.Errorf("%s: userinfo with the final access token: %d %s, want session %s", r.name, info.Status, info.Raw, r.sid)
		}
	}

	feed := map[string]bool{} // kind + " " + the kid, or the digest of any other value
	for _, e := range c.revocations(survivor) {
		feed[e.Kind+" "+e.Value+e.Digest] = true
	}
	onFeed := func(kind, value string) bool {
		k := waxseal.RevocationKind(kind)
		if k.Digested() {
			value = k.Digest(value)
		}
		return feed[kind+" "+value]
	}
	for _, r := range refreshers {
		if onFeed("sid", r.sid) {
			t.Errorf("%s: its session %s was revoked", r.name, r.sid)
		}
	}
	var acked []revocation
	for _, r := range revokers {
		acked = append(acked, r.acked...)
	}
	if len(acked) == 0 {
		t.Fatal("no revocation was acknowledged")
	}
	t.Logf("%d revocations acknowledged", len(acked))
	for _, rev := range acked {
		if !onFeed(rev.kind, rev.value) {
			t.Errorf("%s %s acknowledged by %s is not in the survivor's feed", rev.how, rev.value, rev.by)
		}
		if rev.kind == "sid" {
			if a := c.mustSend(survivor, http.MethodPost, issuer.TokenPath, refreshForm(rev.rt), ""); a.Status != http.StatusBadRequest || a.str("error") != "invalid_grant" {
				t.Errorf("%s %s: the session's refresh token: %d %s", rev.how, rev.value, a.Status, a.Raw)
			}
		}
	}
	// The survivor's own check of access tokens follows the log, so a
	// revocation committed by the dead instance takes effect there within
	// a notification's delay.
	deadline := time.Now().Add(10 * time.Second)
	for _, rev := range acked {
		for c.mustSend(survivor, http.MethodGet, issuer.UserinfoPath, nil, rev.at).Status != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: the survivor still accepts the access token", rev.how, rev.value)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// cluster is the issuer instances under test and what clients share.
type cluster struct {
	t       *testing.T
	servers [2]*server
	client  *http.Client
	// killed is set just before servers[victim] is killed: from then on,
	// and only from then on, a request to it may go unanswered.
	victim int
	killed atomic.Bool
}

// mustSend sends a request to server i and fails the test if no answer
// comes.
func (c *cluster) mustSend(i int, method, path string, form url.Values, bearer string) answer {
	c.t.Helper()
	a, err := send(c.client, method, c.servers[i].URL+path, form, bearer)
	if err != nil {
		c.t.Fatalf("server %s: %v", c.servers[i].name, err)
	}
	return a
}

// revocations reads server i's whole feed as JSON pages.
func (c *cluster) revocations(i int) []feedEntry {
	c.t.Helper()
	var all []feedEntry
	for after := int64(0); ; {
		a := c.mustSend(i, http.MethodGet, issuer.RevocationsPath+fmt.Sprintf("?after=%d", after), nil, "")
		var page struct {
			Revocations []feedEntry
			Cursor      int64
			More        bool
		}
		if a.Status != http.StatusOK || json.Unmarshal([]byte(a.Raw), &page) != nil {
			c.t.Fatalf("feed: %d %s", a.Status, a.Raw)
		}
		for _, e := range page.Revocations {
			if e.Cursor <= after {
				c.t.Fatalf("feed: cursor %d after %d", e.Cursor, after)
			}
			after = e.Cursor
		}
		all = append(all, page.Revocations...)
		if !page.More {
			return all
		}
	}
}

type feedEntry struct {
	Cursor              int64
	Kind, Value, Digest string
}

// metric returns the value of one series on server i's /metrics, or "0".
func (c *cluster) metric(i int, series string) string {
	c.t.Helper()
	a, err := send(c.client, http.MethodGet, c.servers[i].metricsURL(c.t)+issuer.MetricsPath, nil, "")
	if err != nil {
		c.t.Fatalf("server %s metrics: %v", c.servers[i].name, err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(a.Raw)
	if m == nil {
		return "0"
	}
	return m[1]
}

// worker is one client. It sends its requests to the two instances in
// turn until one gives no answer, and from then on only to the other.
type worker struct {
	c    *cluster
	name string
	next int // the instance of the next request
	down int // the instance that gave no answer, or -1
}

func (c *cluster) worker(name string, first int) worker {
	return worker{c: c, name: name, next: first % 2, down: -1}
}

// send sends a request and, if the instance being killed gives no answer,
// the same request once to the other. It reports whether it resent, and
// fails the test on any other missing answer.
func (w *worker) send(method, path string, form url.Values, bearer string) (a answer, resent, ok bool) {
	i := w.next
	if w.down >= 0 {
		i = 1 - w.down
	}
	w.next = 1 - w.next
	a, err := send(w.c.client, method, w.c.servers[i].URL+path, form, bearer)
	if err == nil {
		return a, false, true
	}
	if i != w.c.victim || !w.c.killed.Load() {
		w.c.t.Errorf("%s: no answer from %s, which was not killed: %v", w.name, w.c.servers[i].name, err)
		return a, false, false
	}
	w.down = i
	a, err = send(w.c.client, method, w.c.servers[1-i].URL+path, form, bearer)
	if err != nil {
		w.c.t.Errorf("%s: resending to the survivor %s: %v", w.name, w.c.servers[1-i].name, err)
		return a, true, false
	}
	return a, true, true
}

// login logs alice in, waiting while the issuer is too busy hashing.
func (w *worker) login() (access, refresh string, ok bool) {
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {crashPassword}, "client_id": {"web"}}
	for range 100 {
		a, _, ok := w.send(http.MethodPost, issuer.TokenPath, form, "")
		if !ok {
			return "", "", false
		}
		switch a.Status {
		case http.StatusOK:
			return a.str("access_token"), a.str("refresh_token"), true
		case http.StatusServiceUnavailable:
			time.Sleep(50 * time.Millisecond)
			continue
		}
		w.c.t.Errorf("%s: login: %d %s", w.name, a.Status, a.Raw)
		return "", "", false
	}
	w.c.t.Errorf("%s: login: the issuer stayed busy", w.name)
	return "", "", false
}

// refreshForm is a refresh request of the public client "web" that every
// worker logs in as.
func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"web"}}
}

// refresher logs in once and refreshes until stopped, keeping the last
// refresh token it got an answer for.
type refresher struct {
	worker
	sid            string
	rt             string // the last acknowledged refresh token
	acked          int    // refreshes answered 200
	ackedAfterKill int    // of them, sent after the kill
	retried        []rotation
}

// rotation is a refresh the client resent after getting no answer.
type rotation struct{ sent, got string }

func (r *refresher) run(ready *sync.WaitGroup, stop <-chan struct{}) {
	at, rt, ok := r.login()
	ready.Done()
	if !ok {
		return
	}
	r.sid, r.rt = claim(r.c.t, at, "sid"), rt
	for {
		select {
		case <-stop:
			return
		default:
		}
		afterKill := r.c.killed.Load()
		a, resent, ok := r.send(http.MethodPost, issuer.TokenPath, refreshForm(r.rt), "")
		if !ok {
			return
		}
		if a.Status != http.StatusOK {
			r.c.t.Errorf("%s: refresh after %d acknowledged (resent: %v): %d %s", r.name, r.acked, resent, a.Status, a.Raw)
			return
		}
		next := a.str("refresh_token")
		if resent {
			r.retried = append(r.retried, rotation{sent: r.rt, got: next})
		}
		r.rt = next
		r.acked++
		if afterKill {
			r.ackedAfterKill++
		}
	}
}

// revoker logs in, refreshes once and ends what it got, in one of three
// ways in turn, until stopped; it keeps the revocations acknowledged.
type revoker struct {
	worker
	acked []revocation
}

type revocation struct {
	how, by     string // the request, and the worker that sent it
	kind, value string // the feed entry it must have made
	rt, at      string // the credentials it must have ended
}

func (r *revoker) run(stop <-chan struct{}) {
	for j := 0; ; j++ {
		select {
		case <-stop:
			return
		default:
		}
		rev, ok := r.revokeOne(j)
		if !ok {
			return
		}
		if rev != nil {
			r.acked = append(r.acked, *rev)
		}
	}
}

// revokeOne logs in, refreshes once and ends what it got in the j'th of
// three ways. It returns the revocation if it was acknowledged, and false
// if the test failed.
func (r *revoker) revokeOne(j int) (*revocation, bool) {
	_, rt, ok := r.login()
	if !ok {
		return nil, false
	}
	a, _, ok := r.send(http.MethodPost, issuer.TokenPath, refreshForm(rt), "")
	if !ok {
		return nil, false
	}
	if a.Status != http.StatusOK {
		r.c.t.Errorf("%s: refresh: %d %s", r.name, a.Status, a.Raw)
		return nil, false
	}
	rev := &revocation{by: r.name, rt: a.str("refresh_token"), at: a.str("access_token")}
	var resent bool
	want := http.StatusOK
	switch j % 3 {
	case 0:
		rev.how, rev.kind, rev.value = "logout", "sid", claim(r.c.t, rev.at, "sid")
		a, resent, ok = r.send(http.MethodPost, issuer.LogoutPath, nil, rev.at)
		want = http.StatusNoContent
	case 1:
		rev.how, rev.kind, rev.value = "revoke refresh token", "sid", claim(r.c.t, rev.at, "sid")
		a, _, ok = r.send(http.MethodPost, issuer.RevokePath, url.Values{"token": {rev.rt}, "token_type_hint": {"refresh_token"}}, "")
	case 2:
		rev.how, rev.kind, rev.value = "revoke access token", "jti", claim(r.c.t, rev.at, "jti")
		a, _, ok = r.send(http.MethodPost, issuer.RevokePath, url.Values{"token": {rev.at}}, "")
	}
	switch {
	case !ok:
		return nil, false
	case a.Status == want:
		return rev, true
	case rev.how == "logout" && resent && a.Status == http.StatusUnauthorized:
		// The dead instance ended the session before dying and the
		// survivor already refuses the token: done, but not acknowledged.
		return nil, true
	}
	r.c.t.Errorf("%s: %s: %d %s", r.name, rev.how, a.Status, a.Raw)
	return nil, false
}

// claim returns a string claim of an access token, read without checking
// it: the issuer has just handed the token out.
func claim(t *testing.T, at, name string) string {
	_, raw, err := token.DecodeUnverified(at)
	var claims map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &claims)
	}
	s, _ := claims[name].(string)
	if err != nil || s == "" {
		t.Errorf("access token without %s: %v", name, err)
	}
	return s
}

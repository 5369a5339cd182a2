package e2e_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/issuer"
)

// relay forwards TCP connections to an address, and can be cut: every
// connection it holds is closed, and new ones are closed as they come,
// until it is restored. It is the network between a guard and its issuer.
type relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool                  // guarded by mu
	conns map[net.Conn]struct{} // guarded by mu; both ends of every relayed connection
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	var accepting sync.WaitGroup
	accepting.Go(r.accept)
	t.Cleanup(func() {
		ln.Close()
		accepting.Wait()
		r.Cut()
	})
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	for {
		down, err := r.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			down.Close()
			continue
		}
		r.mu.Lock()
		if r.cut {
			down.Close()
			up.Close()
		} else {
			r.conns[down], r.conns[up] = struct{}{}, struct{}{}
			go r.pipe(down, up)
			go r.pipe(up, down)
		}
		r.mu.Unlock()
	}
}

// pipe copies from one end to the other; when either side ends, both do.
func (r *relay) pipe(from, to net.Conn) {
	io.Copy(to, from)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range []net.Conn{from, to} {
		c.Close()
		delete(r.conns, c)
	}
}

// Cut closes every connection and refuses new ones until Restore.
func (r *relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for c := range r.conns {
		c.Close()
		delete(r.conns, c)
	}
}

func (r *relay) Restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = false
}

func (r *relay) open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns) / 2
}

// TestNoRevocationIsLost cuts a guard off its issuer's feed, revokes
// sessions whose tokens the guard has accepted, and restores the feed: the
// guard must catch up on every revocation made while it could not hear.
func TestNoRevocationIsLost(t *testing.T) {
	const rounds, sessions = 2, 10
	for _, e := range issuertest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			iss := issuertest.Start(t, issuertest.Config{Store: e.Open(t)})
			iss.AddUser("alice")
			link := newRelay(t, strings.TrimPrefix(iss.URL, "http://"))
			cfg := iss.GuardConfig("notes")
			cfg.FeedURL = "http://" + link.addr() + issuer.RevocationsPath
			g, err := guard.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Close)
			issuertest.WaitReady(t, g)
			h := g.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			accepted := func(access string) bool {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+access)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK && w.Code != http.StatusUnauthorized {
					t.Fatalf("guard: %d %s", w.Code, w.Body)
				}
				return w.Code == http.StatusOK
			}

			for round := range rounds {
				tokens := make([]string, sessions)
				for i := range tokens {
					tokens[i] = iss.Login("alice", "").Access
					if !accepted(tokens[i]) {
						t.Fatalf("round %d: session %d refused before its logout", round, i)
					}
				}
				issuertest.WaitFor(t, "the feed stream to run through the relay", func() bool { return link.open() > 0 })

				link.Cut()
				for _, access := range tokens {
					if status, body := iss.Post(issuer.LogoutPath, nil, access); status != http.StatusNoContent {
						t.Fatalf("logout: %d %s", status, body)
					}
				}
				for i, access := range tokens {
					if !accepted(access) {
						t.Fatalf("round %d: session %d refused while the feed was cut: the test's cut leaks", round, i)
					}
				}
				link.Restore()

				last := iss.LastCursor()
				issuertest.WaitFor(t, "the guard to catch up", func() bool { return g.Stats().FeedCursor >= last })
				for i, access := range tokens {
					if accepted(access) {
						t.Errorf("round %d: session %d accepted after its logout reached the guard", round, i)
					}
				}
			}
		})
	}
}

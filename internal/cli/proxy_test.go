package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal/proxy"
)

// logWatch is a command's log output; it reports the address of the first
// "... listening" line.
type logWatch struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	rest      []byte
	listening chan string
}

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.rest = append(l.rest, p...)
	for {
		i := bytes.IndexByte(l.rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(l.rest[:i], &rec) == nil && strings.HasSuffix(rec.Msg, " listening") && rec.Addr != "" {
			select {
			case l.listening <- rec.Addr:
			default:
			}
		}
		l.rest = l.rest[i+1:]
	}
}

func (l *logWatch) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// start runs a serving waxseal command in this process until the test ends,
// when it must shut down cleanly, and returns the address it listens on.
func start(t *testing.T, args ...string) (addr string, logs *logWatch) {
	t.Helper()
	logs = &logWatch{listening: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() { exit <- Main(ctx, args, IO{In: strings.NewReader(""), Out: io.Discard, Err: logs}) }()
	t.Cleanup(func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("waxseal %s: exit %d after shutdown\n%s", args[0], code, logs)
		}
	})
	select {
	case addr = <-logs.listening:
		return addr, logs
	case code := <-exit:
		exit <- code
		t.Fatalf("waxseal %s exited %d before listening\n%s", args[0], code, logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("waxseal %s did not listen\n%s", args[0], logs)
	}
	return "", nil
}

func TestProxyRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"proxy", "--upstream", "http://127.0.0.1:9", "--issuer", "https://issuer.invalid", "--audience", "notes"}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		error string
	}{
		{"no upstream", []string{"proxy", "--issuer", "https://issuer.invalid", "--audience", "notes"}, 2, "required"},
		{"no audience", []string{"proxy", "--upstream", "http://127.0.0.1:9", "--issuer", "https://issuer.invalid"}, 2, "required"},
		{"arguments", append(base, "extra"), 2, "--help"},
		{"plain HTTP off loopback", append(base, "--listen", "0.0.0.0:0"), 1, "refusing plain HTTP"},
		{"half of TLS", append(base, "--tls-cert", "c.pem"), 1, "go together"},
		{"rule without role", append(base, "--require-role", "/admin"), 1, "PATHPREFIX=ROLE"},
		{"rule with empty role", append(base, "--require-role", "/admin="), 1, "no role"},
		{"relative rule", append(base, "--require-role", "admin=admin"), 1, "does not start with /"},
		{"wildcard origin", append(base, "--allow-origin", "https://*.example.com"), 1, "wildcard"},
		{"origin with path", append(base, "--allow-origin", "https://app.example.com/"), 1, "no path"},
		{"empty JWKS", append(base, "--jwks-file", jwks), 1, "no usable"},
		{"bad stale duration", append(base, "--feed-stale-after", "-1s"), 2, "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.error) {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
		})
	}
}

// TestProxy runs `waxseal proxy` with keys from a JWKS file in front of a
// real upstream.
func TestProxy(t *testing.T) {
	dir := dataDir(t)
	mustRun(t, "keys", "generate")
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(mustRun(t, "keys", "jwks")), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, _ := openRing(t, dir)
	const iss, app = "https://issuer.example", "https://app.example.com"

	var mu sync.Mutex
	var reached []http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Header.Clone())
		mu.Unlock()
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	hits := func() int { mu.Lock(); defer mu.Unlock(); return len(reached) }

	// Flags from the environment too, as in a unit file.
	t.Setenv("WAXSEAL_REQUIRE_ROLE", "/admin=admin,/admin/audit=auditor")
	addr, logs := start(t, "proxy", "--listen", "127.0.0.1:0", "--upstream", upstream.URL,
		"--issuer", iss, "--audience", "notes", "--jwks-file", jwks, "--allow-origin", app)
	base := "http://" + addr
	admin := mintWith(t, ring, iss) // alice, with role admin

	send := func(method, path, bearer string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		for i := 0; i < len(header); i += 2 {
			req.Header.Add(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	if resp := send(http.MethodGet, "/notes", admin, "X-Waxseal-Roles", "auditor", "X-Waxseal-Session", "forged"); resp.StatusCode != http.StatusOK {
		t.Fatalf("valid token: %d", resp.StatusCode)
	}
	mu.Lock()
	h := reached[0]
	mu.Unlock()
	if h.Get(proxy.HeaderSubject) != "alice" || h.Get(proxy.HeaderRoles) != "admin" || h.Get(proxy.HeaderSession) != "" ||
		h.Get("Authorization") != "Bearer "+admin {
		t.Fatalf("upstream saw %v", h)
	}

	for _, tc := range []struct {
		name, method, path, bearer string
		header                     []string
		status                     int
		reached                    bool
	}{
		{"admin path", "GET", "/admin/users", admin, nil, http.StatusOK, true},
		{"longer rule, role missing", "GET", "/admin/audit/log", admin, nil, http.StatusForbidden, false},
		{"no token", "GET", "/notes", "", nil, http.StatusUnauthorized, false},
		{"token of another issuer", "GET", "/notes", mintWith(t, ring, "https://evil.example"), nil, http.StatusUnauthorized, false},
		{"100 KB header", "GET", "/notes", admin, []string{"X-Padding", strings.Repeat("p", 100<<10)}, http.StatusRequestHeaderFieldsTooLarge, false},
		{"100 KB token", "GET", "/notes", strings.Repeat("p", 100<<10), nil, http.StatusRequestHeaderFieldsTooLarge, false},
		{"preflight", "OPTIONS", "/notes", "", []string{"Origin", app, "Access-Control-Request-Method", "DELETE"}, http.StatusNoContent, false},
		{"liveness", "GET", proxy.LivePath, "", nil, http.StatusOK, false},
		{"readiness without a feed", "GET", proxy.ReadyPath, "", nil, http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits()
			resp := send(tc.method, tc.path, tc.bearer, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.status)
			}
			if reached := hits() > before; reached != tc.reached {
				t.Fatalf("reached the upstream: %v", reached)
			}
			if tc.method == http.MethodOptions && resp.Header.Get("Access-Control-Allow-Origin") != app {
				t.Fatalf("preflight headers %v", resp.Header)
			}
		})
	}
	if l := logs.String(); strings.Contains(l, strings.Split(admin, ".")[2]) || !strings.Contains(l, "no revocation feed") {
		t.Errorf("log:\n%s", l)
	}
}

func TestServeAllowOrigin(t *testing.T) {
	dataDir(t)
	const app = "https://app.example.com"
	if code, _, errOut := run(t, "", "serve", "--listen", "127.0.0.1:0", "--allow-origin", "*.example.com"); code != 1 || !strings.Contains(errOut, "--allow-origin") {
		t.Fatalf("bad origin: exit %d\n%s", code, errOut)
	}
	addr, _ := start(t, "serve", "--listen", "127.0.0.1:0", "--allow-origin", app)
	req, _ := http.NewRequest(http.MethodOptions, "http://"+addr+"/token", nil)
	req.Header.Set("Origin", app)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get("http://" + addr + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Fatalf("jwks without Origin: %d %v", resp.StatusCode, resp.Header)
	}
}

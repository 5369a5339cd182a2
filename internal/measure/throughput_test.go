package measure

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/proxy"
	"github.com/waxseal/waxseal/token"
)

const (
	// rounds is how many times each target is loaded, in alternating order,
	// so that drift in the machine's load touches every target alike.
	rounds = 5
	// coldTokens is how many distinct tokens the cycling targets send: four
	// times the verifier's cache, so that nearly every request misses it.
	coldTokens = 4 * token.DefaultCacheSize
)

// wrkThreads is wrk's thread count; the cycling script is told it too, so
// that its threads share no token.
const wrkThreads = "2"

// wrkArgs are the load every target gets: two threads, 32 connections,
// ten seconds.
var wrkArgs = []string{"-t" + wrkThreads, "-c32", "-d10s"}

// cycleScript makes wrk send a different bearer token on every request:
// thread k of n sends lines k+1, k+1+n, k+1+2n, ... of the token file, so
// the threads share no token and each token recurs only once per pass.
const cycleScript = `
local tokens, i, stride = {}, 0, 1
local started = 0
function setup(thread)
  thread:set("first", started)
  started = started + 1
end
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  stride = tonumber(args[2])
  i = first
end
function request()
  local tok = tokens[i % #tokens + 1]
  i = i + stride
  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. tok})
end
`

// target is one URL under load, with the wrk arguments that reach it.
type target struct {
	name string
	args []string // after wrkArgs
	// cpu returns the CPU time used so far by the process that serves the
	// target, so that each run also yields CPU time per request: a figure
	// less disturbed by other work on the machine than throughput is.
	cpu func() time.Duration
}

// result is one wrk run.
type result struct {
	rps    float64
	cpuReq time.Duration // server CPU time per request
}

// selfCPU is the CPU time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU returns a function giving the CPU time process pid has used,
// from /proc/PID/stat (in clock ticks of 10 ms).
func processCPU(pid int) func() time.Duration {
	return func() time.Duration {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0
		}
		// Fields after the command name, which ends at the last ')':
		// state is the first, utime the twelfth, stime the thirteenth.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return 0
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(utime+stime) * 10 * time.Millisecond
	}
}

// TestGuardThroughput serves one handler at /open and, wrapped in
// guard.Require, at /guarded, and loads each with wrk in turn. Same-token
// targets send one valid token on every request (a cache hit after the
// first); cycling targets send a different token on every request from a
// set larger than the cache (a full verification nearly every time), and
// /open gets the same script so that wrk's own per-request cost is equal.
func TestGuardThroughput(t *testing.T) {
	gate(t)
	wrk := wrkPath(t)
	iss := startOneInstance(t)
	g := followingGuard(t, iss.url)
	tok, claims := login(t, g, iss)

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello\n")
	})
	mux := http.NewServeMux()
	mux.Handle("/open", hello)
	mux.Handle("/guarded", g.Require(hello))
	app := serveLoopback(t, mux)

	dir := t.TempDir()
	tokFile := filepath.Join(dir, "tokens.txt")
	writeTokens(t, tokFile, iss.ring, claims, coldTokens)
	script := filepath.Join(dir, "cycle.lua")
	if err := os.WriteFile(script, []byte(cycleScript), 0o600); err != nil {
		t.Fatal(err)
	}
	bearer := []string{"-H", "Authorization: Bearer " + tok}
	cycle := []string{"-s", script}
	targets := []target{
		{"open, same token", append(slices.Clone(bearer), app+"/open"), selfCPU},
		{"guarded, same token", append(slices.Clone(bearer), app+"/guarded"), selfCPU},
		{"open, cycling tokens", append(slices.Clone(cycle), app+"/open", "--", tokFile, wrkThreads), selfCPU},
		{"guarded, cycling tokens", append(slices.Clone(cycle), app+"/guarded", "--", tokFile, wrkThreads), selfCPU},
	}
	res := loadAll(t, wrk, targets)
	report(t, targets, res, [][2]int{{1, 0}, {3, 2}})
	if s := g.Stats(); s.FailedClosed+s.FailedOpen+s.Refused > 0 {
		t.Errorf("guard refused requests during the run: %+v", s)
	}
}

// loadAll runs wrk against every target, rounds times, reversing the order
// every other round, and returns requests per second by target and round.
func loadAll(t *testing.T, wrk string, targets []target) [][]result {
	t.Helper()
	res := make([][]result, len(targets))
	t.Logf("load average before: %s", loadavg())
	for r := range rounds {
		order := make([]int, len(targets))
		for i := range order {
			order[i] = i
		}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			res[i] = append(res[i], runWrk(t, wrk, targets[i]))
		}
	}
	t.Logf("load average after: %s", loadavg())
	return res
}

var (
	requestsPerSec = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	requestsTotal  = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in `)
	wrkErrors      = regexp.MustCompile(`(?m)^\s*(Non-2xx or 3xx responses|Socket errors):.*$`)
)

func runWrk(t *testing.T, wrk string, tg target) result {
	t.Helper()
	args := append(slices.Clone(wrkArgs), tg.args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cpu0 := tg.cpu()
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	cpu := tg.cpu() - cpu0
	if err != nil {
		t.Fatalf("wrk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if m := wrkErrors.Find(out); m != nil {
		t.Fatalf("wrk %s: %s\n%s", strings.Join(args, " "), m, out)
	}
	m, n := requestsPerSec.FindSubmatch(out), requestsTotal.FindSubmatch(out)
	if m == nil || n == nil {
		t.Fatalf("wrk %s: no request count in\n%s", strings.Join(args, " "), out)
	}
	rps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	total, err := strconv.ParseInt(string(n[1]), 10, 64)
	if err != nil || total == 0 {
		t.Fatalf("wrk %s: %d requests", strings.Join(args, " "), total)
	}
	r := result{rps: rps, cpuReq: cpu / time.Duration(total)}
	t.Logf("%-30s %7.0f req/s %6.1f µs CPU/req  wrk %s", tg.name, r.rps, us(r.cpuReq), redactBearer(args))
	return r
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// redactBearer shortens a token on a logged command line.
func redactBearer(args []string) string {
	s := strings.Join(args, " ")
	if i := strings.Index(s, "Bearer "); i >= 0 {
		if j := strings.IndexByte(s[i+7:], ' '); j > 16 {
			s = s[:i+7] + "$TOKEN" + s[i+7+j:]
		}
	}
	return s
}

// report logs Markdown tables: per target the medians and every round;
// per pair (numerator, denominator) the ratios of throughput and of server
// CPU time per request, of the medians and round by round.
func report(t *testing.T, targets []target, res [][]result, pairs [][2]int) {
	t.Helper()
	rps := func(i int) []float64 {
		v := make([]float64, len(res[i]))
		for r, x := range res[i] {
			v[r] = x.rps
		}
		return v
	}
	cpu := func(i int) []float64 {
		v := make([]float64, len(res[i]))
		for r, x := range res[i] {
			v[r] = us(x.cpuReq)
		}
		return v
	}
	t.Logf("| target | req/s, median | req/s, each round | server CPU µs/request, median |")
	t.Logf("|---|---|---|---|")
	for i, tg := range targets {
		t.Logf("| %s | %.0f | %s | %.1f |", tg.name, median(rps(i)), joinFloats(rps(i), "%.0f"), median(cpu(i)))
	}
	t.Logf("| ratio | req/s, of medians | req/s, per round (min–max) | CPU/request, of medians |")
	t.Logf("|---|---|---|---|")
	for _, p := range pairs {
		a, b := rps(p[0]), rps(p[1])
		per := make([]float64, len(a))
		for r := range a {
			per[r] = a[r] / b[r]
		}
		t.Logf("| %s / %s | %.1f %% | %.1f–%.1f %% | %.2f |", targets[p[0]].name, targets[p[1]].name,
			100*median(a)/median(b), 100*slices.Min(per), 100*slices.Max(per), median(cpu(p[0]))/median(cpu(p[1])))
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func joinFloats(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

func wrkPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed (Debian: apt-get install wrk)")
	}
	return p
}

// startOneInstance runs one issuer on PostgreSQL.
func startOneInstance(t *testing.T) *instance {
	t.Helper()
	store := openPostgres(t, pgtest.URL(t))
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	master, err := keyring.GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	return startInstance(t, store, master, "http://"+ln.Addr().String(), ln)
}

// followingGuard starts a guard on iss and waits for its first catch-up.
func followingGuard(t *testing.T, iss string) *guard.Guard {
	t.Helper()
	g, err := guard.New(context.Background(), guard.Config{Issuer: iss, Audience: audience, Logger: warnings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return g
}

// login creates a user, logs in at the issuer and returns the access token
// with its claims as g verified them.
func login(t *testing.T, g *guard.Guard, iss *instance) (string, *token.Claims) {
	t.Helper()
	acct := &issuer.Accounts{Store: iss.store, Hasher: cheapHasher(t), Logger: warnings}
	if _, err := acct.AddUser(context.Background(), "alice", userPassword, nil); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	tr := grant(t, client, iss.url, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {userPassword}, "client_id": {"web"}})
	c, err := g.Verify(context.Background(), tr.Access)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Access, c
}

// writeTokens mints n tokens like c, each with its own jti, with the
// issuer's signing key, one per line.
func writeTokens(t *testing.T, path string, ring *keyring.Ring, c *token.Claims, n int) {
	t.Helper()
	key, err := ring.Signer()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for range n {
		cc := *c
		cc.ID = token.NewID()
		raw, err := token.Mint(key, &cc)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(raw)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveLoopback serves h on a loopback port until the test ends and
// returns its base URL.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln := listen(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// plainProxyEnv names the upstream of the plain reverse proxy that
// TestPlainProxyProcess serves when the test binary runs itself as one.
const plainProxyEnv = "WAXSEAL_MEASURE_PLAIN_PROXY_UPSTREAM"

// TestProxyThroughput loads a plain upstream directly, through `waxseal
// proxy` (a separate process, following an in-process issuer's feed), and
// through a reverse proxy without authentication (httputil.ReverseProxy
// with the same transport settings, also a separate process). The first
// ratio is what a service sees; the second isolates the guard's share from
// the cost of the extra hop.
func TestProxyThroughput(t *testing.T) {
	gate(t)
	wrk := wrkPath(t)
	iss := startOneInstance(t)
	g := followingGuard(t, iss.url)
	tok, claims := login(t, g, iss)

	upstream := serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello\n")
	}))
	dir := t.TempDir()
	bin := filepath.Join(dir, "waxseal")
	build := []string{"build", "-o", bin, "github.com/waxseal/waxseal/cmd/waxseal"}
	if out, err := exec.Command("go", build...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(build, " "), err, out)
	}
	t.Logf("go %s", strings.Join(build, " "))
	authed := startProcess(t, "waxseal proxy listening", nil, bin, "proxy", "--listen", "127.0.0.1:0",
		"--upstream", upstream, "--issuer", iss.url, "--audience", audience)
	plain := startProcess(t, "plain proxy listening", []string{plainProxyEnv + "=" + upstream},
		os.Args[0], "-test.run", "^TestPlainProxyProcess$")
	// The guard in the proxy answers 503 until its first catch-up.
	waitOK(t, authed.url+proxy.ReadyPath)
	waitOK(t, plain.url+"/hello")

	tokFile := filepath.Join(dir, "tokens.txt")
	writeTokens(t, tokFile, iss.ring, claims, coldTokens)
	script := filepath.Join(dir, "cycle.lua")
	if err := os.WriteFile(script, []byte(cycleScript), 0o600); err != nil {
		t.Fatal(err)
	}
	bearer := []string{"-H", "Authorization: Bearer " + tok}
	cycle := func(u string) []string { return []string{"-s", script, u, "--", tokFile, wrkThreads} }
	targets := []target{
		{"upstream, direct", append(slices.Clone(bearer), upstream+"/hello"), selfCPU},
		{"plain proxy, no auth", append(slices.Clone(bearer), plain.url+"/hello"), processCPU(plain.pid)},
		{"waxseal proxy, same token", append(slices.Clone(bearer), authed.url+"/hello"), processCPU(authed.pid)},
		{"plain proxy, cycling tokens", cycle(plain.url + "/hello"), processCPU(plain.pid)},
		{"waxseal proxy, cycling tokens", cycle(authed.url + "/hello"), processCPU(authed.pid)},
	}
	res := loadAll(t, wrk, targets)
	report(t, targets, res, [][2]int{{2, 0}, {2, 1}, {1, 0}, {4, 3}})
}

// process is a server this test started, listening at url.
type process struct {
	url string
	pid int
}

// startProcess runs name with args and env added to this process's
// environment, waits for the JSON log line whose "msg" is ready, and takes
// the server's address from its "addr". The process is interrupted when
// the test ends.
func startProcess(t *testing.T, ready string, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	addr := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr, Level string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == ready {
				addr <- line.Addr
			} else if line.Level != "INFO" {
				// Anything but routine messages is worth seeing.
				t.Logf("%s: %s", filepath.Base(name), sc.Text())
			}
		}
		cmd.Wait()
	}()
	select {
	case a := <-addr:
		return &process{url: "http://" + a, pid: cmd.Process.Pid}
	case <-exited:
		t.Fatalf("%s %s exited before listening", name, strings.Join(args, " "))
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %s: not listening after 30 s", name, strings.Join(args, " "))
	}
	return nil
}

// waitOK polls u until it answers 200, for at most ten seconds.
func waitOK(t *testing.T, u string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not answering 200 after 10 s (last: %v)", u, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPlainProxyProcess is not a test: TestProxyThroughput runs the test
// binary with it selected to get a reverse proxy without authentication in
// a process of its own. Its transport has the settings package proxy uses.
func TestPlainProxyProcess(t *testing.T) {
	upstream := os.Getenv(plainProxyEnv)
	if upstream == "" {
		t.Skip("a helper process of TestProxyThroughput")
	}
	up, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.SetXForwarded() },
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: proxy.DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ResponseHeaderTimeout: proxy.DefaultResponseHeaderTimeout,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
		},
	}
	ln := listen(t)
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	hs := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); hs.Close() }()
	log.Info("plain proxy listening", "addr", ln.Addr().String())
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}

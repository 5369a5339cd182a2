package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binaries holds the programs built once per test binary run, in a
// directory that Cleanup removes.
var binaries struct {
	mu  sync.Mutex
	dir string            // guarded by mu
	m   map[string]string // guarded by mu: name → path
}

// Cleanup removes the built programs; a TestMain calls it after m.Run.
func Cleanup() {
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
		binaries.dir, binaries.m = "", nil
	}
}

// built returns the path of the program name, building it on first use
// with build(dir), where dir is the directory to put it in.
func built(t testing.TB, name string, build func(dir string) (string, error)) string {
	t.Helper()
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if p, ok := binaries.m[name]; ok {
		if p == "" {
			t.Fatalf("building %s failed earlier in this run", name)
		}
		return p
	}
	if binaries.dir == "" {
		dir, err := os.MkdirTemp("", "waxseal-interop-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binaries.dir, binaries.m = dir, map[string]string{}
	}
	p, err := build(binaries.dir)
	if err != nil {
		binaries.m[name] = ""
		t.Fatalf("building %s: %v", name, err)
	}
	binaries.m[name] = p
	return p
}

// goCommand runs the go tool in dir with extra environment.
func goCommand(dir string, env []string, args ...string) error {
	gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gotool); err != nil {
		if gotool, err = exec.LookPath("go"); err != nil {
			return err
		}
	}
	cmd := exec.Command(gotool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Waxseal returns the path of the waxseal command, built from the main
// module in the repository this module sits in, exactly as a user builds
// it.
func Waxseal(t testing.TB) string {
	t.Helper()
	return built(t, "waxseal", func(dir string) (string, error) {
		root, err := filepath.Abs("..")
		if err != nil {
			return "", err
		}
		for d := root; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "cmd", "waxseal")); err == nil {
				root = d
				break
			}
			if filepath.Dir(d) == d {
				return "", fmt.Errorf("no cmd/waxseal above %s", root)
			}
		}
		p := filepath.Join(dir, "waxseal")
		return p, goCommand(root, nil, "build", "-o", p, "./cmd/waxseal")
	})
}

// Issuer is a running `waxseal serve` over HTTPS at a test host name.
type Issuer struct {
	URL      string // https://auth.example.test:PORT, the --issuer
	Addr     string // 127.0.0.1:PORT, where it listens
	Database string // sqlite:PATH, for the CLI
}

// IssuerConfig says how to start an issuer.
type IssuerConfig struct {
	Name  string   // host label; default "auth"
	Flags []string // extra flags for serve
}

// NewIssuer makes the issuer's database (migrated, so the CLI can register
// users and clients before it serves) without starting it.
func NewIssuer(t testing.TB, cfg IssuerConfig) *Issuer {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "auth"
	}
	addr := FreePort(t)
	iss := &Issuer{
		URL:      "https://" + Host(cfg.Name, addr),
		Addr:     addr,
		Database: "sqlite:" + filepath.Join(t.TempDir(), "waxseal.db"),
	}
	iss.Run(t, "", "migrate")
	return iss
}

// Run runs a waxseal command against the issuer's database and returns
// its standard output; the test fails if the command does.
func (iss *Issuer) Run(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := iss.Try(t, stdin, args...)
	if err != nil {
		t.Fatalf("waxseal %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// Try runs a waxseal command against the issuer's database and returns
// what it printed and how it exited.
func (iss *Issuer) Try(t testing.TB, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(Waxseal(t), args...)
	cmd.Env = append(childEnv(), "WAXSEAL_DATABASE="+iss.Database)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Start starts `waxseal serve` with the leaf certificate and waits until
// it answers /readyz through client. The process is stopped when the test
// ends, and its log is shown if the test failed.
func (iss *Issuer) Start(t testing.TB, leaf *Leaf, client *http.Client, flags ...string) {
	t.Helper()
	args := append([]string{"serve", "--listen", iss.Addr, "--issuer", iss.URL,
		"--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--metrics-listen", "off"}, flags...)
	p := startProcess(t, "waxseal serve", []string{"WAXSEAL_DATABASE=" + iss.Database}, Waxseal(t), args...)
	waitReady(t, p, client, iss.URL+"/readyz")
}

// Guard is a running `waxseal proxy`: the guard as a process, in front of
// an upstream.
type Guard struct {
	URL string // http://127.0.0.1:PORT
}

// StartGuard runs `waxseal proxy` for the audience in front of upstream,
// following the issuer's keys and revocation feed. The proxy finds the test
// hosts through the CONNECT proxy and trusts the CA by SSL_CERT_FILE, as an
// operator would point it at a private CA.
func StartGuard(t testing.TB, ca *CA, via *ConnectProxy, issuer, audience, upstream string) *Guard {
	t.Helper()
	addr := FreePort(t)
	p := startProcess(t, "waxseal proxy", []string{"SSL_CERT_FILE=" + ca.PEMFile, "HTTPS_PROXY=" + via.URL},
		Waxseal(t), "proxy", "--listen", addr, "--issuer", issuer, "--audience", audience, "--upstream", upstream)
	g := &Guard{URL: "http://" + addr}
	waitReady(t, p, http.DefaultClient, g.URL+"/.waxseal/readyz")
	return g
}

// process is a program the test started; it is stopped when the test ends.
type process struct {
	name string
	log  *logBuffer
	done chan struct{} // closed when the process has exited
}

// startProcess starts path with args and the test's environment (less
// WAXSEAL_ variables) plus env. When the test ends the process gets
// SIGINT, then SIGKILL after 10 s, and its output is shown if the test
// failed.
func startProcess(t testing.TB, name string, env []string, path string, args ...string) *process {
	t.Helper()
	p := &process{name: name, log: &logBuffer{}, done: make(chan struct{})}
	cmd := exec.Command(path, args...)
	cmd.Env = append(childEnv(), env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.log.String())
		}
	})
	return p
}

// waitReady polls url until it answers 200, the process exits, or 30 s
// pass.
func waitReady(t testing.TB, p *process, client *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s", p.name, p.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s within 30 s (last: %v)\n%s", p.name, url, err, p.log.String())
		}
	}
}

// childEnv is the test's environment without WAXSEAL_ variables, so that
// only what a test sets configures the commands it runs.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WAXSEAL_") {
			env = append(env, kv)
		}
	}
	return env
}

// logBuffer collects a process's output for the test's failure message.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	const keep = 16 << 10
	b := l.buf.Bytes()
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}

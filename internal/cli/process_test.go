package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file's package run the real waxseal binary, as an
// operator would: built once, on first use, into a directory that TestMain
// removes.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// waxsealBinary returns the path of the built waxseal command.
func waxsealBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the waxseal binary: skipped with -short")
	}
	binary.once.Do(func() {
		gotool, err := exec.LookPath("go")
		if err != nil {
			binary.err = fmt.Errorf("building waxseal: %w", err)
			return
		}
		if binary.dir, binary.err = os.MkdirTemp("", "waxseal-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "waxseal")
		out, err := exec.Command(gotool, "build", "-o", binary.path, "github.com/waxseal/waxseal/cmd/waxseal").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build ./cmd/waxseal: %w\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// childEnv is the test's environment without WAXSEAL_ variables, so that
// only the flags a test gives configure the commands it runs.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WAXSEAL_") {
			env = append(env, kv)
		}
	}
	// Servers started in parallel would contend for the default metrics
	// port; a test that reads metrics gives --metrics-listen 127.0.0.1:0.
	return append(env, "WAXSEAL_METRICS_LISTEN=off")
}

// runBinary runs a waxseal command to completion and returns its standard
// output, failing the test if it exits with an error.
func runBinary(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(waxsealBinary(t), args...)
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("waxseal %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// server is a running `waxseal serve` process.
type server struct {
	name string
	URL  string // http://127.0.0.1:PORT, from the log line that says so
	cmd  *exec.Cmd
	log  *logTail
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit, once done is closed
}

// startServer starts `waxseal serve` on a free loopback port with the
// extra flags and waits until it listens. The process is killed when the
// test ends, and its last log lines are shown if the test failed.
func startServer(t *testing.T, name string, flags ...string) *server {
	t.Helper()
	return startCommand(t, name, append([]string{"serve", "--listen", "127.0.0.1:0"}, flags...)...)
}

// startCommand starts a serving waxseal command (serve or proxy) and waits
// until it logs that it listens.
func startCommand(t *testing.T, name string, args ...string) *server {
	t.Helper()
	s := &server{
		name: name,
		cmd:  exec.Command(waxsealBinary(t), args...),
		log:  &logTail{listening: make(chan string, 1)},
		done: make(chan struct{}),
	}
	s.cmd.Env = childEnv()
	s.cmd.Stderr = s.log
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("last log lines of server %s:\n%s", s.name, s.log.tail())
		}
	})
	select {
	case addr := <-s.log.listening:
		s.URL = "http://" + addr
	case <-s.done:
		t.Fatalf("server %s exited before listening: %v\n%s", name, s.err, s.log.tail())
	case <-time.After(30 * time.Second):
		t.Fatalf("server %s did not listen within 30 s\n%s", name, s.log.tail())
	}
	return s
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing server %s: %v", s.name, err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("server %s still running 10 s after SIGKILL", s.name)
	}
	var exit *exec.ExitError
	if !errors.As(s.err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("server %s: exit %v, want death by signal", s.name, s.err)
	}
}

// logTail keeps the last lines a server logged (JSON, one object a line)
// and its warnings and errors, and passes on the address of the line that
// says it is listening.
type logTail struct {
	mu        sync.Mutex
	partial   []byte
	lines     []string // the last tailLines lines
	problems  []string // the first tailLines lines at level WARN or ERROR
	listening chan string
	found     bool
	metrics   string // the address of the line "metrics listening"
}

// metricsURL is the base URL of the server's metrics listener, from its log.
func (s *server) metricsURL(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.log.mu.Lock()
		addr := s.log.metrics
		s.log.mu.Unlock()
		if addr != "" {
			return "http://" + addr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("server %s logged no metrics address", s.name)
	return ""
}

const tailLines = 60

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if len(l.lines) == tailLines {
			l.lines = l.lines[1:]
		}
		l.lines = append(l.lines, line)
		var rec struct{ Level, Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if (rec.Level == "WARN" || rec.Level == "ERROR") && len(l.problems) < tailLines {
			l.problems = append(l.problems, line)
		}
		if rec.Msg == "metrics listening" {
			l.metrics = rec.Addr
		}
		if !l.found && strings.HasPrefix(rec.Msg, "waxseal ") && strings.HasSuffix(rec.Msg, " listening") && rec.Addr != "" {
			l.found = true
			l.listening <- rec.Addr
		}
	}
	return len(p), nil
}

func (l *logTail) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// warnings returns the lines logged at level WARN or ERROR.
func (l *logTail) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.problems...)
}

// answer is a decoded HTTP answer of a server.
type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (a answer) str(k string) string { s, _ := a.Body[k].(string); return s }

// send makes one request. An error means no answer came: the request may
// or may not have been carried out.
func send(c *http.Client, method, url string, form url.Values, bearer string) (answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	json.Unmarshal(raw, &a.Body)
	return a, nil
}

package cli_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoginFloodMemory sends WAXSEAL_LOGIN_FLOOD logins (docs/BENCHMARKS.md
// uses 1,000) at once to `waxseal serve` with its default password hasher
// (argon2id at DefaultParams, one hash per CPU at a time, two seconds' wait
// for a turn), and reports how they were answered and the server's peak
// resident memory. It measures rather than tests, so it runs only when the
// variable is set.
func TestLoginFloodMemory(t *testing.T) {
	floodLogins, err := strconv.Atoi(os.Getenv("WAXSEAL_LOGIN_FLOOD"))
	if err != nil || floodLogins < 1 {
		t.Skip("a measurement: set WAXSEAL_LOGIN_FLOOD to a number of logins, e.g. 1000, to run it")
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "waxseal.db")
	runBinary(t, "", "migrate", "--database", db)
	runBinary(t, crashPassword+"\n", "user", "add", "--database", db, "--password-stdin", "alice")
	s := startServer(t, "flood", "--database", db, "--metrics-listen", "127.0.0.1:0")
	pid := s.cmd.Process.Pid
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {crashPassword}}
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: floodLogins}}
	defer client.CloseIdleConnections()

	idle := procStatus(t, pid, "VmHWM")
	if a, err := send(client, http.MethodPost, s.URL+"/token", form, ""); err != nil || a.Status != http.StatusOK {
		t.Fatalf("first login: %v %d %s", err, a.Status, a.Raw)
	}
	one := procStatus(t, pid, "VmHWM")

	start := make(chan struct{})
	statuses := make([]int, floodLogins)
	took := make([]time.Duration, floodLogins)
	var wg sync.WaitGroup
	for i := range floodLogins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			a, err := send(client, http.MethodPost, s.URL+"/token", form, "")
			took[i] = time.Since(t0)
			if err != nil {
				t.Errorf("login %d: %v", i, err)
				return
			}
			statuses[i] = a.Status
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)

	counts := map[int]int{}
	var slowestOK, slowest503 time.Duration
	for i, st := range statuses {
		counts[st]++
		switch st {
		case http.StatusOK:
			slowestOK = max(slowestOK, took[i])
		case http.StatusServiceUnavailable:
			slowest503 = max(slowest503, took[i])
		}
	}
	t.Logf("%d logins at once, %d CPUs: %d answered 200, %d answered 503, %d otherwise; all answered in %v (slowest 200: %v, slowest 503: %v)",
		floodLogins, runtime.NumCPU(), counts[http.StatusOK], counts[http.StatusServiceUnavailable],
		floodLogins-counts[http.StatusOK]-counts[http.StatusServiceUnavailable],
		elapsed.Round(time.Millisecond), slowestOK.Round(time.Millisecond), slowest503.Round(time.Millisecond))
	t.Logf("server peak RSS (VmHWM): %s idle, %s after one login, %s after the flood; RSS after the flood (VmRSS): %s",
		mib(idle), mib(one), mib(procStatus(t, pid, "VmHWM")), mib(procStatus(t, pid, "VmRSS")))
	if m, err := send(client, http.MethodGet, s.metricsURL(t)+"/metrics", nil, ""); err == nil {
		var vals []string
		for _, name := range []string{"go_memstats_heap_sys_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_stack_sys_bytes", "go_memstats_sys_bytes", "go_goroutines"} {
			if m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(m.Raw); m != nil {
				vals = append(vals, name+"="+m[1])
			}
		}
		t.Logf("after: %s", strings.Join(vals, " "))
	}
	if counts[http.StatusOK] == 0 {
		t.Error("no login succeeded")
	}
}

// procStatus returns a field of /proc/PID/status, in KiB.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("reading the server's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("/proc/%d/status: %q", pid, line)
			}
			return kb
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

func mib(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

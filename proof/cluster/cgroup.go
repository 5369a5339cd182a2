package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CPULimit caps the processor time of each process placed in it, through
// a Linux cgroup of the harness's own (v1 "cpu" controller or v2 cpu.max),
// so that one instance is one fixed slice of a core however many cores the
// machine has: the scale-out curve then measures the design, not the
// machine. Nil when the system offers no writable cgroup.
type CPULimit struct {
	root   string // our own cgroup directory
	v2     bool
	period time.Duration
	quota  time.Duration
	n      int
}

// NewCPULimit makes a parent cgroup for this run. share is the fraction of
// one core each process may use.
func NewCPULimit(share float64) (*CPULimit, error) {
	period := 20 * time.Millisecond
	quota := time.Duration(float64(period) * share)
	name := "waxseal-proof-" + strconv.Itoa(os.Getpid())
	if fi, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil && !fi.IsDir() {
		dir := filepath.Join("/sys/fs/cgroup/cpu", name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cluster: cgroup: %w", err)
		}
		return &CPULimit{root: dir, period: period, quota: quota}, nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir := filepath.Join("/sys/fs/cgroup", name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cluster: cgroup: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "cpu.max")); err != nil {
			os.Remove(dir)
			return nil, fmt.Errorf("cluster: cgroup v2 without the cpu controller")
		}
		return &CPULimit{root: dir, v2: true, period: period, quota: quota}, nil
	}
	return nil, fmt.Errorf("cluster: no cgroup file system")
}

// Share is the fraction of a core each process gets.
func (l *CPULimit) Share() float64 { return float64(l.quota) / float64(l.period) }

// Place puts pid in a cgroup of its own with the quota.
func (l *CPULimit) Place(pid int) error {
	l.n++
	dir := filepath.Join(l.root, "p"+strconv.Itoa(l.n))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("cluster: cgroup: %w", err)
	}
	us := func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
	var err error
	if l.v2 {
		err = os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(us(l.quota)+" "+us(l.period)), 0o644)
	} else {
		err = os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(us(l.period)), 0o644)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(us(l.quota)), 0o644)
		}
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
	}
	if err != nil {
		return fmt.Errorf("cluster: cgroup: %w", err)
	}
	return nil
}

// Close removes the cgroups; their processes must have ended.
func (l *CPULimit) Close() {
	if l == nil {
		return
	}
	entries, _ := os.ReadDir(l.root)
	for _, e := range entries {
		if e.IsDir() {
			os.Remove(filepath.Join(l.root, e.Name()))
		}
	}
	os.Remove(l.root)
}

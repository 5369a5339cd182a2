package cli

import (
	"strings"
	"time"
)

// durationFlag is a flag.Value for a positive duration.
type durationFlag struct{ d time.Duration }

func (f *durationFlag) String() string { return f.d.String() }

func (f *durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d <= 0 {
		return errPositive
	}
	f.d = d
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

const errPositive = errString("must be positive")

// listFlag is a repeatable flag; from the environment it takes a
// comma-separated list.
type listFlag struct{ vals []string }

func (f *listFlag) String() string { return strings.Join(f.vals, ",") }

func (f *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			f.vals = append(f.vals, v)
		}
	}
	return nil
}

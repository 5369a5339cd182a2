package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// runVersion prints what the binary was built from, as recorded by the Go
// toolchain: the module version ("(devel)" for a build from a checkout),
// the VCS commit and time when built with -buildvcs, and the Go version.
func runVersion(_ context.Context, args []string, io IO) error {
	fs := newFlags("version", "", io)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(io.Out, "waxseal (no build information)\ngo: %s\nplatform: %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	commit, when, modified := "unknown", "", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	fmt.Fprintf(io.Out, "waxseal %s\n", info.Main.Version)
	fmt.Fprintf(io.Out, "commit: %s%s\n", commit, modified)
	if when != "" {
		fmt.Fprintf(io.Out, "commit time: %s\n", when)
	}
	fmt.Fprintf(io.Out, "go: %s\nplatform: %s/%s\n", info.GoVersion, runtime.GOOS, runtime.GOARCH)
	return nil
}

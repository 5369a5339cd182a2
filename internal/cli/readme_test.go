package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeWalkthrough is a newcomer following README.md: it runs the
// README's runnable shell blocks, in order, in one bash process in an
// empty directory, with the waxseal binary built from this tree first on
// PATH. It fails when the README and the binary disagree.
//
// The convention, for anyone editing README.md:
//
//   - A block runs only if the line just before its opening ```sh fence is
//     <!-- walkthrough -->. Every other block (install lines, examples with
//     placeholders, other sections' commands) is left alone, so sections
//     can be added anywhere without this test running them.
//   - The blocks run under `set -euo pipefail`: every command must succeed,
//     so use curl -f. A command whose line ends in a comment starting with
//     "# fails" must fail instead (it shows a refusal, such as a revoked
//     token); its success fails the test.
//   - Loopback addresses 127.0.0.1:8080, :8081 and :3000 are replaced with
//     free ports, so the walk-through never collides with a real server;
//     serve's default address is moved the same way through WAXSEAL_LISTEN.
//   - Commands ending in & run in the background; whatever is still
//     running at the end is killed.
func TestReadmeWalkthrough(t *testing.T) {
	bin := waxsealBinary(t)
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the README walk-through needs %s: %v", tool, err)
			}
			t.Skipf("skipping the README walk-through: %s is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := walkthroughBlocks(string(readme))
	if len(blocks) < 3 {
		t.Fatalf("README.md has %d runnable blocks (marked <!-- walkthrough -->), want the whole \"Try it\"", len(blocks))
	}

	issuerAddr := freeAddr(t)
	ports := strings.NewReplacer("127.0.0.1:8080", issuerAddr, "127.0.0.1:8081", freeAddr(t), "127.0.0.1:3000", freeAddr(t))
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, b := range blocks {
		script.WriteString("echo '--- README block " + string(rune('1'+i)) + "' >&2\n")
		for _, line := range b {
			script.WriteString(expectFailure(ports.Replace(line)) + "\n")
		}
	}

	dir := t.TempDir()
	binDir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(binDir, "waxseal")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(childEnv(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "WAXSEAL_LISTEN="+issuerAddr)
	// A process group of its own, so that the servers it starts die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A server the script left running when it failed still holds the
	// output pipe: stop waiting for it shortly after bash exits.
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the script left running
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "issuer.log"))
		t.Fatalf("the README walk-through failed: %v\nscript:\n%s\noutput:\n%s\nissuer.log:\n%s", err, script.String(), out.String(), log)
	}
	// What the README says happens, happened.
	for _, want := range []string{"VALID: signed by key", "revocation  not revoked", "token is not valid", "revoked", "alice"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the walk-through's output lacks %q:\n%s", want, out.String())
		}
	}
}

// walkthroughBlocks returns the lines of each ```sh block that follows a
// <!-- walkthrough --> line, with continuation lines joined.
func walkthroughBlocks(md string) [][]string {
	var blocks [][]string
	var cur []string
	marked, in := false, false
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, joinContinuations(cur))
			cur = nil
		case in:
			cur = append(cur, line)
		case marked && (trimmed == "```sh" || trimmed == "```bash"):
			in, marked = true, false
		default:
			marked = trimmed == "<!-- walkthrough -->"
		}
	}
	return blocks
}

func joinContinuations(lines []string) []string {
	var out []string
	var pending string
	for _, l := range lines {
		if strings.HasSuffix(l, "\\") {
			pending += strings.TrimSuffix(l, "\\")
			continue
		}
		out = append(out, pending+l)
		pending = ""
	}
	return out
}

var failsComment = regexp.MustCompile(`^(.*?)\s+#\s*fails\b.*$`)

// expectFailure turns a line marked "# fails" into a check that it fails.
func expectFailure(line string) string {
	m := failsComment.FindStringSubmatch(line)
	if m == nil {
		return line
	}
	return "if " + m[1] + "; then echo 'README: this command should have failed: " +
		strings.ReplaceAll(m[1], "'", `'\''`) + "' >&2; exit 1; fi"
}

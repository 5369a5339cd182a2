package guard_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyset"
)

// TestKeysAloneDoNotTurnRevocationOff: giving a guard its keys
// (Config.Keys) must not quietly stop it from following revocations and
// make it always ready. Without a feed URL New refuses, unless the caller
// says InsecureNoRevocation, which is logged.
func TestKeysAloneDoNotTurnRevocationOff(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	keys := keyset.NewStatic(iss.Ring.PublicSet())
	var logs bytes.Buffer
	cfg := iss.GuardConfig("notes")
	cfg.Keys = keys
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))

	g, err := guard.New(context.Background(), cfg)
	if err == nil {
		g.Close()
		t.Fatal("New with Keys and no FeedURL succeeded: revocation is silently off")
	}
	if !strings.Contains(err.Error(), "InsecureNoRevocation") {
		t.Errorf("the error does not name the option that allows it: %v", err)
	}

	cfg.InsecureNoRevocation = true
	g, err = guard.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New with InsecureNoRevocation: %v", err)
	}
	defer g.Close()
	if !g.Ready() {
		t.Error("a guard that follows no feed by choice is not ready")
	}
	if !strings.Contains(logs.String(), "InsecureNoRevocation") || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("InsecureNoRevocation was not logged as a warning: %q", logs.String())
	}
	iss.AddUser("alice")
	tok := iss.Login("alice", "").Access
	if _, err := g.Verify(context.Background(), tok); err != nil {
		t.Errorf("a valid token: %v", err)
	}

	cfg.FeedURL = iss.URL + issuer.RevocationsPath
	if g, err := guard.New(context.Background(), cfg); err == nil {
		g.Close()
		t.Error("New with both FeedURL and InsecureNoRevocation succeeded")
	}
}

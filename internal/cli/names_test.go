package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLINamesNeverIDs: the hijack of issue "names read as IDs", through
// the command line: a user cannot be added under another user's ID, so
// `user roles ID admin` grants admin to the user with that ID; and `client
// add` refuses the reserved client IDs.
func TestCLINamesNeverIDs(t *testing.T) {
	dataDir(t)
	mustRun(t, "user", "add", "victim")
	var users []struct{ ID, Name string }
	if err := json.Unmarshal([]byte(mustRun(t, "user", "list", "--json")), &users); err != nil || len(users) != 1 {
		t.Fatalf("user list: %+v %v", users, err)
	}
	id := users[0].ID // base64url: may start with -, so it goes after --
	for _, name := range []string{id, strings.ToLower(id)} {
		if code, _, errOut := run(t, "", "user", "add", "--", name); code == 0 || !strings.Contains(errOut, "form of a user ID") {
			t.Errorf("user add %s: exit %d %q", name, code, errOut)
		}
	}
	mustRun(t, "user", "roles", "--", id, "admin")
	if err := json.Unmarshal([]byte(mustRun(t, "user", "list", "--json")), &users); err != nil || len(users) != 1 {
		t.Fatalf("user list: %+v %v", users, err)
	}
	if out := mustRun(t, "user", "list", "--json"); !strings.Contains(out, `"admin"`) {
		t.Errorf("user roles %s admin did not reach the victim: %s", id, out)
	}
	for _, cid := range []string{"default", "DEFAULT", id} {
		if code, _, errOut := run(t, "", "client", "add", "--", cid); code == 0 || !strings.Contains(errOut, "client ID") {
			t.Errorf("client add %s: exit %d %q", cid, code, errOut)
		}
	}
}

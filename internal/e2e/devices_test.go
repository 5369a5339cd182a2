package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/issuer"
)

// TestEndSessionFromAnotherDevice: a user logged in on two devices ends one
// session from the other; the ended device can no longer refresh, and every
// guard refuses its access token once the feed brings the news.
func TestEndSessionFromAnotherDevice(t *testing.T) {
	for _, e := range issuertest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			iss := issuertest.Start(t, issuertest.Config{Store: e.Open(t), Audiences: []string{"notes"}})
			iss.AddUser("alice")
			g, err := guard.New(context.Background(), iss.GuardConfig("notes"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Close)
			issuertest.WaitReady(t, g)

			laptop, phone := iss.Login("alice", ""), iss.Login("alice", "")
			phoneClaims, err := g.Verify(context.Background(), phone.Access)
			if err != nil {
				t.Fatalf("the guard refuses the phone before anything happened: %v", err)
			}

			// From the laptop: list the sessions, end the phone's.
			req, _ := http.NewRequest(http.MethodGet, iss.URL+issuer.SessionsPath, nil)
			req.Header.Set("Authorization", "Bearer "+laptop.Access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				Sessions []struct {
					ID      string `json:"id"`
					Current bool   `json:"current"`
				} `json:"sessions"`
			}
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if len(list.Sessions) != 2 {
				t.Fatalf("the laptop sees %d sessions", len(list.Sessions))
			}
			req, _ = http.NewRequest(http.MethodDelete, iss.URL+issuer.SessionsPath+"/"+phoneClaims.SessionID, nil)
			req.Header.Set("Authorization", "Bearer "+laptop.Access)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("ending the phone's session: %d", resp.StatusCode)
			}

			if status, body := iss.Post(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {phone.Refresh}}, ""); status != http.StatusBadRequest {
				t.Errorf("the ended device refreshed: %d %s", status, body)
			}
			issuertest.WaitFor(t, "the guard to refuse the ended device's token", func() bool {
				_, err := g.Verify(context.Background(), phone.Access)
				return err != nil
			})
			if _, err := g.Verify(context.Background(), laptop.Access); err != nil {
				t.Errorf("the guard refuses the laptop: %v", err)
			}
		})
	}
}

package password_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/waxseal/waxseal/password"
)

// A login: canonicalize the name, verify against the stored hash or the
// dummy, and rehash when the parameters have moved on.
func Example() {
	ctx := context.Background()
	h, err := password.NewHasher(password.HasherConfig{
		Params:        password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, // DefaultParams in production
		MaxConcurrent: 4,
		MaxWait:       2 * time.Second,
	})
	if err != nil {
		panic(err)
	}

	// Registration.
	name, err := password.CanonicalName("Ｊａｎｅ.Doe")
	if err != nil {
		panic(err)
	}
	if err := password.DefaultPolicy.Check("tangerine lemur rides bicycles", name); err != nil {
		panic(err)
	}
	stored, err := h.Hash(ctx, "tangerine lemur rides bicycles")
	if err != nil {
		panic(err)
	}

	// Login.
	users := map[string]string{name: stored}
	login := func(user, pw string) string {
		user, err := password.CanonicalName(user)
		if err != nil {
			return "invalid_grant"
		}
		enc, found := users[user]
		var ok, rehash bool
		if found {
			ok, rehash, err = h.Verify(ctx, pw, enc)
		} else {
			err = h.VerifyDummy(ctx, pw) // as slow as a wrong password
		}
		switch {
		case errors.Is(err, password.ErrBusy):
			return fmt.Sprintf("503, Retry-After: %.0f", h.RetryAfter().Seconds())
		case err != nil:
			return "500"
		case !ok:
			return "invalid_grant"
		}
		if rehash {
			// store h.Hash(ctx, pw) for user
		}
		return "ok: " + user
	}
	fmt.Println(login("jane.doe", "tangerine lemur rides bicycles"))
	fmt.Println(login("JANE.DOE", "wrong"))
	fmt.Println(login("nobody", "tangerine lemur rides bicycles"))

	fmt.Println(password.CheckPassword("Password123!"))
	// Output:
	// ok: jane.doe
	// invalid_grant
	// invalid_grant
	// password: not accepted: shorter than 15 characters
}

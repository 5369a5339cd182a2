package keyset_test

import (
	"context"
	"errors"
	"log"

	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/token"
)

func ExampleNewRemote() {
	ctx := context.Background()
	keys, err := keyset.NewRemote(ctx, keyset.RemoteConfig{
		Issuer: "https://auth.example",
		OnRemove: func(kid string) {
			// Forget tokens verified with kid.
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()

	// A verifier calls Key with the "kid" of each token it has not seen.
	k, err := keys.Key(ctx, "kid-from-the-token-header")
	switch {
	case errors.Is(err, token.ErrUnknownKey):
		log.Print("no such key: reject the token")
	case err != nil:
		log.Print(err) // ctx ended while waiting for the issuer
	default:
		log.Print("verify with ", k.Algorithm())
	}
}

package keyring_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/waxseal/waxseal/keyring"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "issuer")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Once, at setup: a master key only the issuer can read.
	master, err := keyring.GenerateMasterKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := keyring.WriteMasterKeyFile(filepath.Join(dir, "master.key"), master); err != nil {
		log.Fatal(err)
	}

	// At every start.
	master, err = keyring.LoadMasterKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ring, err := keyring.Open(ctx, keyring.NewFileStore(filepath.Join(dir, "keys.json")), master, keyring.Config{})
	if err != nil {
		log.Fatal(err)
	}
	// The server then calls ring.Maintain every minute, signs with
	// ring.Signer(), and serves ring.PublicSet() with Cache-Control
	// max-age ring.JWKSMaxAge().
	signer, err := ring.Signer()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(signer.Algorithm(), len(ring.PublicSet().Keys), ring.JWKSMaxAge())
	// Output: EdDSA 1 30m0s
}

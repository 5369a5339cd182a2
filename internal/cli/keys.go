package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyring"
)

func runKeys(ctx context.Context, args []string, io IO) error {
	return subcommand(ctx, "keys", args, io, map[string]func(context.Context, []string, IO) error{
		"generate":   runKeysGenerate,
		"list":       runKeysList,
		"rotate":     runKeysRotate,
		"compromise": runKeysCompromise,
		"jwks":       runKeysJWKS,
	}, []string{"generate", "list", "rotate", "compromise", "jwks"})
}

// keyFlags are the flags of every command that opens the key ring.
type keyFlags struct {
	keys          *string
	masterKeyFile *string
	alg           *string
}

func addKeyFlags(fs *flag.FlagSet) keyFlags {
	return keyFlags{
		keys:          fs.String("keys", "waxseal-keys.json", "the key file: signing keys, sealed under the master key"),
		masterKeyFile: fs.String("master-key-file", "", "the master key file (default: waxseal.key beside the key file); WAXSEAL_MASTER_KEY, base64, takes precedence"),
		alg:           fs.String("alg", string(jwk.EdDSA), "algorithm of new keys: EdDSA, ES256, RS256 or HS256"),
	}
}

func (f keyFlags) masterKeyPath() string {
	if *f.masterKeyFile != "" {
		return *f.masterKeyFile
	}
	return filepath.Join(filepath.Dir(*f.keys), "waxseal.key")
}

// masterKey returns the master key from WAXSEAL_MASTER_KEY or the master key
// file. With create, a missing file is made with a new key, as on a first
// start; it is never replaced.
func (f keyFlags) masterKey(create bool, io IO) (keyring.MasterKey, error) {
	if s, ok := os.LookupEnv("WAXSEAL_MASTER_KEY"); ok {
		return keyring.ParseMasterKey(s)
	}
	path := f.masterKeyPath()
	k, err := keyring.LoadMasterKeyFile(path)
	if err == nil || !create || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = keyring.GenerateMasterKey(nil); err != nil {
		return k, err
	}
	if err := keyring.WriteMasterKeyFile(path, k); err != nil {
		return k, err
	}
	fmt.Fprintf(io.Err, "waxseal: created master key file %s: back it up; without it the signing keys cannot be read\n", path)
	return k, nil
}

func (f keyFlags) config() (keyring.Config, error) {
	alg, err := jwk.ParseAlgorithm(*f.alg)
	return keyring.Config{Algorithm: alg}, err
}

// open opens the ring. With create, a missing master key and key file are
// made; otherwise a missing key file is an error, so that a typo in --keys
// does not silently start a new ring.
func (f keyFlags) open(ctx context.Context, create bool, io IO) (*keyring.Ring, error) {
	if !create {
		if _, err := os.Stat(*f.keys); err != nil {
			return nil, fmt.Errorf("no key file (run 'waxseal keys generate' or 'waxseal serve' first): %w", err)
		}
	}
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	mk, err := f.masterKey(create, io)
	if err != nil {
		return nil, err
	}
	return keyring.Open(ctx, keyring.NewFileStore(*f.keys), mk, cfg)
}

func runKeysGenerate(ctx context.Context, args []string, io IO) error {
	fs := newFlags("keys generate", "", io)
	kf := addKeyFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if _, err := os.Stat(*kf.keys); err == nil {
		return fmt.Errorf("%s already holds keys; use 'waxseal keys rotate' to add one", *kf.keys)
	}
	r, err := kf.open(ctx, true, io)
	if err != nil {
		return err
	}
	return printKeys(io, r.Keys(), false)
}

func runKeysList(ctx context.Context, args []string, io IO) error {
	fs := newFlags("keys list", "", io)
	kf := addKeyFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	r, err := kf.open(ctx, false, io)
	if err != nil {
		return err
	}
	return printKeys(io, r.Keys(), *asJSON)
}

func runKeysRotate(ctx context.Context, args []string, io IO) error {
	fs := newFlags("keys rotate", "", io)
	kf := addKeyFlags(fs)
	now := fs.Bool("now", false, "sign with the new key at once instead of after the publish lead (verifiers learn it by refetching on its unknown kid)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	r, err := kf.open(ctx, false, io)
	if err != nil {
		return err
	}
	rotate := r.Rotate
	if *now {
		rotate = r.RotateNow
	}
	info, err := rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Err, "waxseal: new key %s signs from %s\n", info.ID, info.Activates.Format(time.RFC3339))
	return printKeys(io, r.Keys(), false)
}

func runKeysCompromise(ctx context.Context, args []string, io IO) error {
	fs := newFlags("keys compromise", "KID", io)
	kf := addKeyFlags(fs)
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	r, err := kf.open(ctx, false, io)
	if err != nil {
		return err
	}
	if _, err := r.Compromise(ctx, fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(io.Err, "waxseal: key %s is compromised: unpublished, and tokens it signed no longer verify\n", fs.Arg(0))
	return printKeys(io, r.Keys(), false)
}

// runKeysJWKS prints the public key set, for verifiers that take their keys
// from a file.
func runKeysJWKS(ctx context.Context, args []string, io IO) error {
	fs := newFlags("keys jwks", "", io)
	kf := addKeyFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	r, err := kf.open(ctx, false, io)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(r.PublicSet(), "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Out, "%s\n", out)
	return nil
}

func printKeys(io IO, keys []keyring.Info, asJSON bool) error {
	if asJSON {
		type key struct {
			ID          string    `json:"kid"`
			Algorithm   string    `json:"alg"`
			State       string    `json:"state"`
			Created     time.Time `json:"created"`
			Activates   time.Time `json:"activates"`
			Deactivates time.Time `json:"deactivates"`
			Retires     time.Time `json:"retires"`
			Compromised time.Time `json:"compromised,omitzero"`
		}
		out := []key{}
		for _, k := range keys {
			out = append(out, key{k.ID, string(k.Algorithm), string(k.State), k.Created, k.Activates, k.Deactivates, k.Retires, k.Compromised})
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(io.Out, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tSIGNS FROM\tSIGNS UNTIL\tPUBLISHED UNTIL")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State,
			k.Activates.Format(time.RFC3339), k.Deactivates.Format(time.RFC3339), k.Retires.Format(time.RFC3339))
	}
	return tw.Flush()
}

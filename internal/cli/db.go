package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	database      *string
	masterKeyFile *string
	alg           *string
	accessTTL     *durationFlag
}

func addDBFlags(fs *flag.FlagSet) dbFlags {
	f := dbFlags{
		database:      fs.String("database", "sqlite:waxseal.db", "the database: sqlite:PATH or a postgres:// URL"),
		masterKeyFile: fs.String("master-key-file", "", "the master key file that seals the signing keys (default: waxseal.key beside a SQLite database); WAXSEAL_MASTER_KEY, base64, takes precedence"),
		alg:           fs.String("alg", string(jwk.EdDSA), "algorithm of new signing keys: EdDSA, ES256, RS256 or HS256"),
		accessTTL:     &durationFlag{d: issuer.DefaultAccessTTL},
	}
	fs.Var(f.accessTTL, "access-ttl", "lifetime of access tokens")
	return f
}

// open opens and migrates the database.
func (f dbFlags) open(ctx context.Context) (dburl.DB, error) {
	db, err := dburl.Open(ctx, *f.database)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (f dbFlags) masterKeyPath() (string, error) {
	if *f.masterKeyFile != "" {
		return *f.masterKeyFile, nil
	}
	scheme, rest, _ := strings.Cut(*f.database, ":")
	if strings.EqualFold(scheme, "sqlite") {
		return filepath.Join(filepath.Dir(strings.TrimPrefix(rest, "//")), "waxseal.key"), nil
	}
	return "", errors.New("give --master-key-file or WAXSEAL_MASTER_KEY: the master key of a shared database must be shared by every issuer instance, not made by one")
}

// masterKey returns the master key from WAXSEAL_MASTER_KEY or the master key
// file. With create, a missing file is made with a new key, as on a first
// start; it is never replaced.
func (f dbFlags) masterKey(create bool, io IO) (keyring.MasterKey, error) {
	if s, ok := os.LookupEnv("WAXSEAL_MASTER_KEY"); ok {
		return keyring.ParseMasterKey(s)
	}
	path, err := f.masterKeyPath()
	if err != nil {
		return keyring.MasterKey{}, err
	}
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

// ring opens the key ring kept in db. With create, a missing master key file
// is made; the first signing key is made whenever none can sign.
func (f dbFlags) ring(ctx context.Context, db dburl.DB, create bool, io IO) (*keyring.Ring, error) {
	alg, err := jwk.ParseAlgorithm(*f.alg)
	if err != nil {
		return nil, err
	}
	mk, err := f.masterKey(create, io)
	if err != nil {
		return nil, err
	}
	// A key stays published for as long as its last token can verify.
	return keyring.Open(ctx, db, mk, keyring.Config{Algorithm: alg, MaxTokenTTL: f.accessTTL.d + token.MaxLeeway})
}

// accounts returns the account manager on db. Its audit events go to the
// database; the terminal sees only warnings.
func (f dbFlags) accounts(db dburl.DB, io IO) (*issuer.Accounts, error) {
	h, err := password.NewHasher(password.HasherConfig{})
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return &issuer.Accounts{Store: db, Hasher: h, AccessTTL: f.accessTTL.d, Logger: log}, nil
}

func runMigrate(ctx context.Context, args []string, io IO) error {
	fs := newFlags("migrate", "", io)
	df := addDBFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	db, err := df.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(io.Err, "waxseal: the database schema is up to date")
	return nil
}

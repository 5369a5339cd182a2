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
	"github.com/waxseal/waxseal/internal/sqlstore"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// dbFlags are the flags of a command that opens the database. Only
// commands that use the key ring have the key flags, and only those that
// revoke or sign have --access-ttl; the others keep the defaults.
type dbFlags struct {
	database      *string
	masterKeyFile *string
	alg           *string
	accessTTL     *durationFlag
}

// dbNeeds says which of the optional database flags a command takes.
type dbNeeds uint8

const (
	needKeys dbNeeds = 1 << iota // --master-key-file, --alg
	needTTL                      // --access-ttl: revocations last as long as tokens
)

func addDBFlags(fs *flag.FlagSet, needs dbNeeds) dbFlags {
	f := dbFlags{
		database:      fs.String("database", "sqlite:waxseal.db", "the database: sqlite:PATH or a postgres:// URL (pool size: pool_max_conns=N in the URL)"),
		masterKeyFile: new(""),
		alg:           new(string(jwk.EdDSA)),
		accessTTL:     &durationFlag{d: issuer.DefaultAccessTTL},
	}
	if needs&needKeys != 0 {
		fs.StringVar(f.masterKeyFile, "master-key-file", "", "the master key file that seals the signing keys (default: waxseal.key beside a SQLite database); WAXSEAL_MASTER_KEY, base64, takes precedence")
		fs.StringVar(f.alg, "alg", string(jwk.EdDSA), "algorithm of new signing keys: EdDSA, ES256, RS256 or HS256")
	}
	if needs&(needKeys|needTTL) != 0 {
		fs.Var(f.accessTTL, "access-ttl", "lifetime of access tokens (as given to serve): revocations and retiring keys outlive the tokens by this")
	}
	return f
}

// errNoDatabase is the start of the error for a database that does not
// exist, so that a command run in the wrong directory, or with a mistyped
// --database, says so instead of making an empty one.
const errNoDatabase = errString("no database")

// open opens the database. With create (serve, migrate) it creates and
// migrates it; otherwise it only checks it: a SQLite file that does not
// exist, a schema without waxseal tables or one older than this binary is
// an error naming the database and the command that creates or updates it,
// so that a mistyped --database never gets an empty database made for it,
// and tables change only when the operator asks.
func (f dbFlags) open(ctx context.Context, create bool) (dburl.DB, error) {
	if path, ok := dburl.SQLitePath(*f.database); ok && !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			abs, _ := filepath.Abs(path)
			return nil, fmt.Errorf("%w at %s: 'waxseal migrate' (or 'waxseal serve') creates one; give --database (or WAXSEAL_DATABASE) to use another", errNoDatabase, abs)
		}
	}
	db, err := dburl.Open(ctx, *f.database)
	if err != nil {
		return nil, err
	}
	if create {
		err = db.Migrate(ctx)
	} else {
		err = f.checkSchema(ctx, db)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkSchema explains a schema that a command other than serve and
// migrate finds missing or out of date.
func (f dbFlags) checkSchema(ctx context.Context, db dburl.DB) error {
	err := db.CheckSchema(ctx)
	migrate := "waxseal migrate --database " + shellQuote(dburl.Redact(*f.database))
	switch {
	case errors.Is(err, sqlstore.ErrNoSchema):
		return fmt.Errorf("%s has no waxseal tables; create them with: %s (or waxseal serve), or give --database (or WAXSEAL_DATABASE) to use another database", dburl.Redact(*f.database), migrate)
	case errors.Is(err, sqlstore.ErrOlderSchema):
		return fmt.Errorf("%s: %w; update it with: %s (or waxseal serve)", dburl.Redact(*f.database), err, migrate)
	}
	return err
}

// shellQuote quotes s for a POSIX shell where it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@,+%=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (f dbFlags) masterKeyPath() (string, error) {
	if *f.masterKeyFile != "" {
		return *f.masterKeyFile, nil
	}
	if path, ok := dburl.SQLitePath(*f.database); ok {
		return filepath.Join(filepath.Dir(path), "waxseal.key"), nil
	}
	return "", errors.New("give --master-key-file or WAXSEAL_MASTER_KEY: the master key of a shared database must be shared by every issuer instance, not made by one ('waxseal keys init-master' makes one)")
}

// masterKey returns the master key from WAXSEAL_MASTER_KEY or the master key
// file. With create, a missing file is made with a new key; it is never
// replaced.
func (f dbFlags) masterKey(create bool, io IO) (keyring.MasterKey, error) {
	if s, ok := os.LookupEnv("WAXSEAL_MASTER_KEY"); ok {
		return keyring.ParseMasterKey(s)
	}
	path, err := f.masterKeyPath()
	if err != nil {
		return keyring.MasterKey{}, err
	}
	k, err := keyring.LoadMasterKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if !create {
		return k, f.noMasterKey(path)
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

// noMasterKey explains a master key file that is not there.
func (f dbFlags) noMasterKey(path string) error {
	if _, ok := dburl.SQLitePath(*f.database); ok {
		return fmt.Errorf("master key file %s does not exist, and the database already holds signing keys sealed under a master key: give its file with --master-key-file (or the key in WAXSEAL_MASTER_KEY); a new key could not open them", path)
	}
	return fmt.Errorf("master key file %s does not exist: make one with 'waxseal keys init-master --master-key-file %s' and give the same key to every instance", path, path)
}

// ring opens the key ring kept in db. A master key is made only for a new
// SQLite database, one that holds no signing key yet: then nothing is
// sealed under another key, and no instance elsewhere shares it. The first
// signing key is made whenever none can sign.
func (f dbFlags) ring(ctx context.Context, db dburl.DB, io IO) (*keyring.Ring, error) {
	alg, err := jwk.ParseAlgorithm(*f.alg)
	if err != nil {
		return nil, err
	}
	recs, err := db.LoadKeys(ctx)
	if err != nil {
		return nil, err
	}
	_, isSQLite := dburl.SQLitePath(*f.database)
	mk, err := f.masterKey(isSQLite && len(recs) == 0, io)
	if err != nil {
		return nil, err
	}
	// A key stays published for as long as its last token can verify. An
	// RS256 key signs OpenID Connect ID tokens beside the default keys;
	// every command keeps it, so that none mistakes it for a default key.
	return keyring.Open(ctx, db, mk, keyring.Config{Algorithm: alg, Extra: []jwk.Algorithm{jwk.RS256},
		MaxTokenTTL: f.accessTTL.d + token.MaxLeeway})
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
	df := addDBFlags(fs, 0)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	path, isSQLite := dburl.SQLitePath(*df.database)
	_, statErr := os.Stat(path)
	db, err := df.open(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if isSQLite && errors.Is(statErr, os.ErrNotExist) {
		abs, _ := filepath.Abs(path)
		fmt.Fprintf(io.Err, "waxseal: created the database %s\n", abs)
		return nil
	}
	fmt.Fprintln(io.Err, "waxseal: the database schema is up to date")
	return nil
}

package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waxseal/waxseal/password"
)

// Mode is how the notes API authenticates its callers.
type Mode string

// The three modes compared.
const (
	Waxseal Mode = "waxseal" // the guard; bearer tokens from the issuer; round robin
	Sticky  Mode = "sticky"  // scs sessions in each instance's memory; nginx ip_hash
	Shared  Mode = "shared"  // scs sessions in Redis; round robin
)

// Modes lists them in the order of every table.
var Modes = []Mode{Waxseal, Sticky, Shared}

// Config of the environment.
type Config struct {
	Root      string        // the waxseal repository
	Dir       string        // working directory for binaries, databases, logs
	Users     int           // accounts created at the issuer and the session app
	AccessTTL time.Duration // the issuer's --access-ttl
	// Postgres is an administrative URL of a PostgreSQL server where the
	// issuer gets a database of its own (so its writes can be counted);
	// empty means SQLite.
	Postgres string
	Logf     func(format string, args ...any)
}

// Env is the topology's fixed part: built binaries, the issuer with its
// accounts, and a Redis of the harness's own.
type Env struct {
	Config
	Waxseal, Notes, Sessions, Nginx string // binaries
	Password                        string // every account's password
	UserNames                       []string
	Issuer                          *Issuer
	Redis                           *Redis
	usersFile                       string
	pgName                          string
}

// Build compiles the waxseal command, examples/notes and sessionnotes into
// cfg.Dir.
func Build(ctx context.Context, cfg Config) (*Env, error) {
	e := &Env{Config: cfg}
	if e.Logf == nil {
		e.Logf = func(string, ...any) {}
	}
	bin := filepath.Join(cfg.Dir, "bin")
	e.Waxseal, e.Notes, e.Sessions = filepath.Join(bin, "waxseal"), filepath.Join(bin, "notes"), filepath.Join(bin, "sessionnotes")
	for _, b := range []struct{ dir, pkg, out string }{
		{cfg.Root, "./cmd/waxseal", e.Waxseal},
		{cfg.Root, "./examples/notes", e.Notes},
		{filepath.Join(cfg.Root, "proof"), "./cmd/sessionnotes", e.Sessions},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cluster: go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	var err error
	if e.Nginx, err = exec.LookPath("nginx"); err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return nil, errors.New("cluster: nginx not found (apt-get install nginx)")
		}
		e.Nginx = "/usr/sbin/nginx"
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("cluster: redis-server not found (apt-get install redis-server)")
	}
	return e, nil
}

// Start starts the issuer and Redis and creates the accounts.
func (e *Env) Start(ctx context.Context) error {
	pw := make([]byte, 12)
	rand.Read(pw)
	e.Password = "proof-" + hex.EncodeToString(pw)
	for i := range e.Users {
		e.UserNames = append(e.UserNames, fmt.Sprintf("user%04d", i))
	}
	// The session app's accounts: the same argon2id parameters as the
	// issuer's. One hash serves every account (same password, same salt):
	// the cost of checking it at login is what matters here.
	h, err := password.NewHasher(password.HasherConfig{})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	hash, err := h.Hash(ctx, e.Password)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	users := map[string]string{}
	for _, n := range e.UserNames {
		users[n] = hash
	}
	data, _ := json.Marshal(users)
	e.usersFile = filepath.Join(e.Dir, "users.json")
	if err := os.WriteFile(e.usersFile, data, 0o600); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if e.Redis, err = StartRedis(ctx, e.Dir); err != nil {
		return err
	}
	if e.Issuer, err = e.startIssuer(ctx); err != nil {
		return err
	}
	return e.Issuer.signup(ctx, e.UserNames, e.Password)
}

// Close stops everything Start started and drops the issuer's database.
func (e *Env) Close() {
	if e.Issuer != nil {
		e.Issuer.Stop()
	}
	if e.Redis != nil {
		e.Redis.Stop()
	}
	if e.pgName != "" {
		// DROP … WITH (FORCE) waits for the server to end the issuer's
		// connections, which takes a while on a loaded machine.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, e.Postgres)
		if err == nil {
			_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+e.pgName+" WITH (FORCE)")
			c.Close(ctx)
		}
		if err != nil {
			e.Logf("could not drop the issuer's database %s: %v", e.pgName, err)
		}
	}
}

// Issuer is "waxseal serve".
type Issuer struct {
	*Proc
	URL string
	// MetricsURL is the base URL of the issuer's metrics listener.
	MetricsURL string
	args       []string
	env        []string
	dir        string
	// DBStats reads the write counters of the issuer's database; nil on
	// SQLite.
	DBStats func(ctx context.Context) (DBWrites, error)
}

// DBWrites are PostgreSQL's counters for one database.
type DBWrites struct {
	Commits, RowsWritten int64
}

func (e *Env) startIssuer(ctx context.Context) (*Issuer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	db := "sqlite:" + filepath.Join(e.Dir, "waxseal.db")
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"WAXSEAL_MASTER_KEY=" + b64(key)}
	metricsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(metricsPort)
	is := &Issuer{URL: "http://" + addr, MetricsURL: "http://" + metricsAddr, dir: e.Dir}
	if e.Postgres != "" {
		e.pgName = fmt.Sprintf("waxseal_proof_%d_%d", os.Getpid(), time.Now().Unix())
		c, err := pgx.Connect(ctx, e.Postgres)
		if err != nil {
			return nil, fmt.Errorf("cluster: postgres: %w", err)
		}
		_, err = c.Exec(ctx, "CREATE DATABASE "+e.pgName)
		c.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster: postgres: %w", err)
		}
		cfg, err := pgx.ParseConfig(e.Postgres)
		if err != nil {
			return nil, fmt.Errorf("cluster: postgres: %w", err)
		}
		u := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, e.pgName)
		if cfg.Password != "" {
			u = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, e.pgName)
		}
		db = u
		admin, name := e.Postgres, e.pgName
		is.DBStats = func(ctx context.Context) (DBWrites, error) { return pgWrites(ctx, admin, name) }
	}
	is.args = []string{"serve", "--listen", addr, "--database", db, "--audience", "notes",
		"--access-ttl", e.AccessTTL.String(), "--signup", "--metrics-listen", metricsAddr}
	is.env = env
	return is, is.start(ctx)
}

func (is *Issuer) start(ctx context.Context) error {
	bin := filepath.Join(is.dir, "bin", "waxseal")
	p, err := startProc(is.dir, "issuer", bin, is.args, is.env)
	if err != nil {
		return err
	}
	is.Proc = p
	p.Addr = strings.TrimPrefix(is.URL, "http://")
	if err := waitHTTP(ctx, p, is.URL+"/readyz", 60*time.Second); err != nil {
		p.Kill()
		return err
	}
	return nil
}

// Restart starts the issuer again after Kill or Stop, on the same port
// and database.
func (is *Issuer) Restart(ctx context.Context) error { return is.start(ctx) }

// signup creates the accounts through POST /v1/signup, two at a time (the
// machine's cores), each from its own loopback address so that the
// per-network signup limit sees distinct clients.
func (is *Issuer) signup(ctx context.Context, names []string, pw string) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(names))
	sem := make(chan struct{}, 2)
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: UserIP(i)}}).DialContext}}
			body, _ := json.Marshal(map[string]string{"username": n, "password": pw})
			for try := 0; ; try++ {
				resp, err := c.Post(is.URL+"/v1/signup", "application/json", bytes.NewReader(body))
				if err != nil {
					errc <- fmt.Errorf("cluster: signup %s: %w", n, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					return
				}
				if resp.StatusCode == http.StatusServiceUnavailable && try < 20 {
					time.Sleep(500 * time.Millisecond)
					continue
				}
				errc <- fmt.Errorf("cluster: signup %s: %s", n, resp.Status)
				return
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// UserIP is the loopback address simulated user i sends from: 127.A.B.1
// with A.B distinct per user, so that nginx's ip_hash (which hashes the
// first three octets) and the issuer's per-address limits see each user as
// a client of its own.
func UserIP(i int) net.IP {
	return net.IPv4(127, byte(1+i/256), byte(i%256), 1)
}

func pgWrites(ctx context.Context, admin, name string) (DBWrites, error) {
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return DBWrites{}, fmt.Errorf("cluster: postgres: %w", err)
	}
	defer c.Close(ctx)
	// Backends report their counters when idle, so ask for a flush first
	// where the server can (PostgreSQL 15 and later), then read.
	c.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	var w DBWrites
	err = c.QueryRow(ctx, `SELECT xact_commit, tup_inserted + tup_updated + tup_deleted
		FROM pg_stat_database WHERE datname = $1`, name).Scan(&w.Commits, &w.RowsWritten)
	if err != nil {
		return DBWrites{}, fmt.Errorf("cluster: postgres: %w", err)
	}
	return w, nil
}

// Package storetest checks that a waxseal.Store keeps the contract its doc
// comments state. Every engine's tests run it:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) waxseal.Store { return openEmpty(t) })
//	}
//
// Times in the suite are whole microseconds, the finest that every engine
// keeps.
package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
)

// Run runs the suite. open returns an empty store, its tables created,
// that it closes when t ends; every subtest opens its own.
func Run(t *testing.T, open func(t *testing.T) waxseal.Store) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, waxseal.Store)
	}{
		{"Users", testUsers},
		{"ListUsers", testListUsers},
		{"SearchUsers", testSearchUsers},
		{"Clients", testClients},
		{"ListClients", testListClients},
		{"DeleteClient", testDeleteClient},
		{"Sessions", testSessions},
		{"RotateRefresh", testRotate},
		{"RotateRefreshChain", testRotateChain},
		{"RotateRefreshExpiry", testRotateExpiry},
		{"RotateRefreshConcurrent", func(t *testing.T, s waxseal.Store) { testRotateConcurrent(t, s, s) }},
		{"EndSession", testEndSession},
		{"EndUserSessions", testEndUserSessions},
		{"StaleLoginRefused", testStaleLogin},
		{"RotateRefreshAudit", testRotateAudit},
		{"AuthCodes", testAuthCodes},
		{"AuthCodeConcurrent", func(t *testing.T, s waxseal.Store) { testAuthCodeConcurrent(t, s, s) }},
		{"SessionFamily", testSessionFamily},
		{"OIDCClient", testOIDCClient},
		{"Revocations", testRevocations},
		{"RevocationsExpire", testRevocationsExpire},
		{"RevocationLifetimeFromPolicy", testPolicyLifetime},
		{"RevocationsTailedWhileAppended", func(t *testing.T, s waxseal.Store) { testTail(t, s, s) }},
		{"WatchRevocations", testWatch},
		{"WatchWakesAtStart", testWatchWakesAtStart},
		{"Audit", testAudit},
		{"Keys", testKeys},
		{"Ping", func(t *testing.T, s waxseal.Store) {
			if err := s.Ping(t.Context()); err != nil {
				t.Error(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

// RunInstances runs the tests of two stores on one database, as two issuer
// instances have. open returns both, on an empty database with its tables
// created, and closes them when t ends.
func RunInstances(t *testing.T, open func(t *testing.T) (a, b waxseal.Store)) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, a, b waxseal.Store)
	}{
		{"WatchSeesOtherInstance", testWatchOther},
		{"RotateRefreshConcurrent", testRotateConcurrent},
		{"AuthCodeConcurrent", testAuthCodeConcurrent},
		{"RevocationsTailedWhileAppended", testTail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tc.test(t, a, b)
		})
	}
}

// t0 is the suite's "now": whole microseconds, and not in UTC, to check
// that stores keep instants rather than clock readings.
var t0 = time.Date(2031, 2, 3, 4, 5, 6, 789_012_000, time.FixedZone("UTC+2", 2*60*60))

const (
	grace = 30 * time.Second
	idle  = 24 * time.Hour
	life  = 30 * 24 * time.Hour
)

func sum(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func newUser(name string, roles ...string) *waxseal.User {
	return &waxseal.User{
		ID: "id-" + name, Name: name, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$" + name,
		Roles: roles, Created: t0, Updated: t0,
	}
}

func newClient(id string) *waxseal.Client {
	return &waxseal.Client{
		ID: id, Name: "Client " + id, SecretDigest: sum("secret of " + id),
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}, Roles: []string{"service"},
		Created: t0, Updated: t0,
	}
}

func mustCreateClient(t *testing.T, s waxseal.Store, c *waxseal.Client) {
	t.Helper()
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

func newSession(id, userID string, created time.Time) *waxseal.Session {
	return &waxseal.Session{
		ID: id, UserID: userID, ClientID: "cli", Scope: "openid profile",
		Created: created, LastUsed: created, Expires: created.Add(life),
		UserAgent: "test/1.0", IP: "192.0.2.7",
	}
}

func mustCreateUser(t *testing.T, s waxseal.Store, u *waxseal.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

func mustCreateSession(t *testing.T, s waxseal.Store, x *waxseal.Session, refresh string) {
	t.Helper()
	if err := s.CreateSession(t.Context(), x, sum(refresh)); err != nil {
		t.Fatal(err)
	}
}

func mustSession(t *testing.T, s waxseal.Store, id string) *waxseal.Session {
	t.Helper()
	x, err := s.Session(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func revocation(kind waxseal.RevocationKind, value string, created time.Time) waxseal.Revocation {
	return waxseal.Revocation{Kind: kind, Value: value, Created: created, Expires: created.Add(time.Hour)}
}

// checkPages checks that list, paging by key, returns all, the five
// items stored in key order, a page at a time.
func checkPages[T any](t *testing.T, what string, all []T, key func(T) string, list func(after string, limit int) ([]T, error)) {
	t.Helper()
	for _, tc := range []struct {
		after string
		limit int
		want  []T
	}{
		{"", 2, all[:2]},
		{key(all[1]), 2, all[2:4]},
		{key(all[3]), 10, all[4:]},
		{key(all[0]) + "0", 1, all[1:2]}, // a key between the first two
		{key(all[4]), 10, nil},
		{"", 100, all},
	} {
		got, err := list(tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("%s(%q, %d)", what, tc.after, tc.limit), got, tc.want)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("err = %v, want %v", err, target)
	}
}

// same reports a difference between got and want, comparing times as
// instants and nil slices as empty ones.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !equal(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

var timeType = reflect.TypeFor[time.Time]()

func equal(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() || a.IsValid() && a.Type() != b.Type() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() == timeType {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	default:
		return a.Interface() == b.Interface()
	}
}

// show prints v with the values behind its pointers.
func show(v any) string {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return "nil"
	case rv.Type() == timeType:
		return v.(time.Time).UTC().Format(time.RFC3339Nano)
	case rv.Kind() == reflect.Pointer:
		if rv.IsNil() {
			return "nil"
		}
		return "&" + show(rv.Elem().Interface())
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8:
		s := "["
		for i := range rv.Len() {
			if i > 0 {
				s += ", "
			}
			s += show(rv.Index(i).Interface())
		}
		return s + "]"
	case rv.Kind() == reflect.Struct:
		s := "{"
		for i := range rv.NumField() {
			if i > 0 {
				s += " "
			}
			s += rv.Type().Field(i).Name + ":" + show(rv.Field(i).Interface())
		}
		return s + "}"
	default:
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
}

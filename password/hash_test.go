package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testParams are cheap, so tests hash in microseconds.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newTestHasher(t testing.TB, cfg HasherConfig) *Hasher {
	t.Helper()
	if cfg.Params == (Params{}) {
		cfg.Params = testParams
	}
	h, err := NewHasher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The argon2id vector of the reference implementation (phc-winner-argon2,
// src/test.c): password "password", salt "somesalt", t=2, m=64 MiB, p=1.
func TestReferenceVector(t *testing.T) {
	const want = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	h := newTestHasher(t, HasherConfig{
		Params: Params{Memory: 65536, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32},
		// NewHasher reads the dummy's salt and key first.
		Rand: strings.NewReader(strings.Repeat("x", 8+32) + "somesalt"),
	})
	got, err := h.Hash(t.Context(), "password")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	ok, rehash, err := h.Verify(t.Context(), "password", want)
	if !ok || rehash || err != nil {
		t.Errorf("Verify(reference) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestRoundTrip(t *testing.T) {
	h := newTestHasher(t, HasherConfig{})
	for _, pw := range []string{"correct horse battery", "", "ünïcödé pässwörd", strings.Repeat("long ", 200)} {
		enc, err := h.Hash(t.Context(), pw)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("Hash(%q) = %s, want PHC argon2id with the Hasher's params", pw, enc)
		}
		if ok, rehash, err := h.Verify(t.Context(), pw, enc); !ok || rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
		if ok, _, err := h.Verify(t.Context(), pw+"x", enc); ok || err != nil {
			t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
		}
	}
}

func TestSaltIsFresh(t *testing.T) {
	h := newTestHasher(t, HasherConfig{})
	a, _ := h.Hash(t.Context(), "same password")
	b, _ := h.Hash(t.Context(), "same password")
	if a == b {
		t.Errorf("two hashes of one password are equal: %s", a)
	}
}

func TestWrongPassword(t *testing.T) {
	h := newTestHasher(t, HasherConfig{})
	enc, err := h.Hash(t.Context(), "the right password")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"the wrong password", "the right passwor", "The right password", "", "the right password\xff"} {
		ok, rehash, err := h.Verify(t.Context(), pw, enc)
		if ok || rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
}

// Hash and Verify normalize, so equivalent spellings of one password match.
func TestVerifyNormalizes(t *testing.T) {
	h := newTestHasher(t, HasherConfig{})
	enc, err := h.Hash(t.Context(), "ﬁne ＰＡＳＳ\u00a0word")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(t.Context(), "fine PASS word", enc); !ok || err != nil {
		t.Errorf("Verify(NFKC equivalent) = %v, %v; want true, nil", ok, err)
	}
	if _, err := h.Hash(t.Context(), "bad\xffutf8"); err == nil {
		t.Error("Hash(invalid UTF-8) succeeded")
	}
}

func TestNeedsRehash(t *testing.T) {
	old := newTestHasher(t, HasherConfig{})
	enc, err := old.Hash(t.Context(), "a password to keep")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params Params
		want   bool
	}{
		{"same", testParams, false},
		{"more memory", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more time", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more threads", Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, true},
		{"longer salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}, true},
		{"shorter key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHasher(t, HasherConfig{Params: tt.params})
			ok, rehash, err := h.Verify(t.Context(), "a password to keep", enc)
			if !ok || err != nil {
				t.Fatalf("Verify = %v, %v; want true, nil", ok, err)
			}
			if rehash != tt.want {
				t.Errorf("needsRehash = %v, want %v", rehash, tt.want)
			}
			// A wrong password never asks for a rehash.
			if _, rehash, _ := h.Verify(t.Context(), "wrong", enc); rehash {
				t.Error("needsRehash = true for a wrong password")
			}
		})
	}
}

const (
	goodSalt = "c29tZXNhbHRzb21lc2FsdA" // 16 bytes
	goodKey  = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
)

// Stored hashes are data, and a hostile or corrupt one must be refused
// before it costs anything: in particular one that names a huge cost.
func TestMalformedHash(t *testing.T) {
	h := newTestHasher(t, HasherConfig{})
	tests := []struct{ name, enc string }{
		{"empty", ""},
		{"not PHC", "hunter2"},
		{"bcrypt", "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"scrypt", "$scrypt$ln=15,r=8,p=1$" + goodSalt + "$" + goodKey},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"version 019", "$argon2id$v=019$m=64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"params reordered", "$argon2id$v=19$t=1,m=64,p=1$" + goodSalt + "$" + goodKey},
		{"param missing", "$argon2id$v=19$m=64,t=1$" + goodSalt + "$" + goodKey},
		{"extra param", "$argon2id$v=19$m=64,t=1,p=1,keyid=a$" + goodSalt + "$" + goodKey},
		{"duplicate param", "$argon2id$v=19$m=64,m=64,t=1$" + goodSalt + "$" + goodKey},
		{"memory above 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"memory 4 GiB", "$argon2id$v=19$m=4294967295,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"memory below 8p", "$argon2id$v=19$m=15,t=1,p=2$" + goodSalt + "$" + goodKey},
		{"time above 100", "$argon2id$v=19$m=64,t=101,p=1$" + goodSalt + "$" + goodKey},
		{"time zero", "$argon2id$v=19$m=64,t=0,p=1$" + goodSalt + "$" + goodKey},
		{"threads zero", "$argon2id$v=19$m=64,t=1,p=0$" + goodSalt + "$" + goodKey},
		{"threads 256", "$argon2id$v=19$m=4096,t=1,p=256$" + goodSalt + "$" + goodKey},
		{"negative", "$argon2id$v=19$m=-64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"empty value", "$argon2id$v=19$m=,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"hex value", "$argon2id$v=19$m=0x40,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"salt padded", "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "==$" + goodKey},
		{"salt with newline", "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt[:8] + "\n" + goodSalt[8:] + "$" + goodKey},
		{"salt url alphabet", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA-_$" + goodKey},
		{"salt too short", "$argon2id$v=19$m=64,t=1,p=1$c29tZQ$" + goodKey},
		{"salt empty", "$argon2id$v=19$m=64,t=1,p=1$$" + goodKey},
		{"salt trailing bits", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdB$" + goodKey},
		{"key too short", "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$CTFhFdXPJO1a"},
		{"key too long", "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + strings.Repeat("A", 88)},
		{"key missing", "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt},
		{"trailing field", "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey + "$"},
		{"leading space", " $argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey},
		{"huge", "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + strings.Repeat("A", 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), "password", tt.enc)
			if err == nil || ok || rehash {
				t.Fatalf("Verify(%q) = %v, %v, %v; want an error", tt.enc, ok, rehash, err)
			}
			if errors.Is(err, ErrBusy) {
				t.Errorf("Verify(%q) error %v is ErrBusy", tt.enc, err)
			}
		})
	}
	// The same string, well formed, is accepted: the table tests the flaw.
	if _, _, err := h.Verify(t.Context(), "password", "$argon2id$v=19$m=64,t=1,p=1$"+goodSalt+"$"+goodKey); err != nil {
		t.Errorf("well-formed hash: %v", err)
	}
}

func TestDefaultParamsMeetOWASP(t *testing.T) {
	p := DefaultParams
	if p.Memory < 19456 || p.Time < 2 || p.Threads < 1 {
		t.Errorf("DefaultParams = %+v, below OWASP's argon2id minimum m=19456, t=2, p=1", p)
	}
	if p.SaltLen < 16 || p.KeyLen < 32 {
		t.Errorf("DefaultParams = %+v, want a salt of at least 16 bytes and a key of at least 32", p)
	}
	h, err := NewHasher(HasherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if h.params != DefaultParams {
		t.Errorf("zero HasherConfig uses %+v, want DefaultParams", h.params)
	}
}

func TestNewHasherRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  HasherConfig
	}{
		{"memory above 1 GiB", HasherConfig{Params: Params{Memory: 1<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}},
		{"time zero", HasherConfig{Params: Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}}},
		{"threads zero", HasherConfig{Params: Params{Memory: 64, Time: 1, SaltLen: 16, KeyLen: 32}}},
		{"salt too short", HasherConfig{Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}}},
		{"key too short", HasherConfig{Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}}},
		{"negative MaxConcurrent", HasherConfig{Params: testParams, MaxConcurrent: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHasher(tt.cfg); err == nil {
				t.Errorf("NewHasher(%+v) succeeded", tt.cfg)
			}
		})
	}
}

// With both slots held, every other caller gets ErrBusy, and no third caller
// ever holds a slot.
func TestConcurrencyBound(t *testing.T) {
	const callers = 20
	h := newTestHasher(t, HasherConfig{MaxConcurrent: 2, MaxWait: time.Millisecond})
	var holding, peak atomic.Int32
	entered := make(chan struct{}, callers)
	release := make(chan struct{})
	h.testHook = func() {
		n := holding.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		entered <- struct{}{}
		<-release
		holding.Add(-1)
	}

	results := make(chan error, callers)
	for range callers {
		go func() {
			_, err := h.Hash(t.Context(), "many at once")
			results <- err
		}()
	}
	// Two callers take the slots and stay in them until released; all
	// others must give up, whatever order they came in.
	<-entered
	<-entered
	for range callers - 2 {
		select {
		case err := <-results:
			if !errors.Is(err, ErrBusy) {
				t.Errorf("Hash with both slots held = %v, want ErrBusy", err)
			}
		case <-entered:
			t.Fatal("a third caller holds a slot")
		}
	}
	close(release)
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("Hash that held a slot = %v", err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak holders = %d, want 2", p)
	}

	// Once freed, the slots serve a crowd again, never more than two at once.
	peak.Store(0)
	h = newTestHasher(t, HasherConfig{MaxConcurrent: 2, MaxWait: time.Hour})
	h.testHook = func() {
		n := holding.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(100 * time.Microsecond) // widen the window a third holder would show in
		holding.Add(-1)
	}
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			enc, err := h.Hash(t.Context(), "many at once")
			if err != nil {
				t.Errorf("Hash = %v", err)
				return
			}
			if ok, _, err := h.Verify(t.Context(), "many at once", enc); !ok || err != nil {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Errorf("peak holders = %d, want at most 2", p)
	}
}

func TestBusyWhenContextEnds(t *testing.T) {
	h := newTestHasher(t, HasherConfig{MaxConcurrent: 1, MaxWait: time.Hour})
	enc, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(canceled, "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("Hash(canceled) = %v, want ErrBusy and context.Canceled", err)
	}

	// The only slot is held; a caller whose context ends while waiting
	// gives up then, not after MaxWait.
	h.slots <- struct{}{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, _, err := h.Verify(ctx, "pw", enc)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify canceled while waiting = %v, want ErrBusy and context.Canceled", err)
	}
	if err := h.VerifyDummy(canceled, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("VerifyDummy under load = %v, want ErrBusy like Verify", err)
	}
	h.release()
}

func TestNegativeMaxWaitFailsAtOnce(t *testing.T) {
	h := newTestHasher(t, HasherConfig{MaxConcurrent: 1, MaxWait: -1})
	h.slots <- struct{}{}
	if _, err := h.Hash(t.Context(), "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with no slot and no wait = %v, want ErrBusy", err)
	}
	h.release()
	if _, err := h.Hash(t.Context(), "pw"); err != nil {
		t.Errorf("Hash with a free slot = %v", err)
	}
}

// VerifyDummy must do the work of a real Verify, at the Hasher's cost, and
// accept nothing.
func TestVerifyDummy(t *testing.T) {
	h := newTestHasher(t, HasherConfig{})
	var hashes atomic.Int32
	h.testHook = func() { hashes.Add(1) }
	for _, pw := range []string{"", "password", "anything at all"} {
		if err := h.VerifyDummy(t.Context(), pw); err != nil {
			t.Errorf("VerifyDummy(%q) = %v", pw, err)
		}
		if ok, _, err := h.Verify(t.Context(), pw, h.dummy); ok || err != nil {
			t.Errorf("dummy hash accepts %q (err %v)", pw, err)
		}
	}
	if n := hashes.Load(); n != 6 {
		t.Errorf("hashes run = %d, want 6: VerifyDummy must hash like Verify", n)
	}
	p, _, _, err := parsePHC(h.dummy)
	if err != nil || p != h.params {
		t.Errorf("dummy hash params = %+v, %v; want the Hasher's %+v", p, err, h.params)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		wait, want time.Duration
	}{
		{0, 2 * time.Second},
		{-1, time.Second},
		{time.Millisecond, time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		h := newTestHasher(t, HasherConfig{MaxWait: tt.wait})
		if got := h.RetryAfter(); got != tt.want {
			t.Errorf("MaxWait %v: RetryAfter = %v, want %v", tt.wait, got, tt.want)
		}
	}
}

// FuzzParsePHC checks that no input panics the parser, that whatever it
// accepts is within the limits, and that an accepted string has exactly one
// spelling.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey)
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		if err := p.validate(); err != nil {
			t.Fatalf("parsePHC(%q) accepted params %+v: %v", s, p, err)
		}
		if again := encodePHC(p, salt, key); again != s {
			t.Fatalf("parsePHC(%q) accepted a non-canonical spelling of %q", s, again)
		}
	})
}

// BenchmarkHashDefault measures one Hash at DefaultParams, the cost of a
// login on this machine.
func BenchmarkHashDefault(b *testing.B) {
	h, err := NewHasher(HasherConfig{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := h.Hash(b.Context(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

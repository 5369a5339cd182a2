package issuer

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/waxseal/waxseal"
)

// tailSize is how many of the newest log entries the issuer keeps in
// memory for its feed streams; a stream further behind reads the store.
const tailSize = 4096

// Defaults of Config's feed stream limits.
const (
	DefaultFeedMaxStreams          = 4096
	DefaultFeedMaxStreamsPerClient = 64
	feedRetryAfter                 = 5 * time.Second
)

// tail is the newest part of the revocation log, in cursor order, as the
// issuer's one reader of the log (CatchUp) found it. Every feed stream
// answers from it, so a wake costs one query of the store however many
// streams are open, instead of one per stream.
type tail struct {
	mu      sync.RWMutex
	base    int64                // guarded by mu; every entry above base, up to head, is in entries
	head    int64                // guarded by mu; the last cursor read
	entries []waxseal.Revocation // guarded by mu; cursor order
	changed *broadcaster         // woken after entries grow
}

func newTail() *tail { return &tail{changed: newBroadcaster()} }

// add appends entries read from the log after head, in cursor order, and
// wakes the streams. Entries at or below head (a repeated read) are
// skipped.
func (t *tail) add(rs []waxseal.Revocation) {
	t.mu.Lock()
	n := len(t.entries)
	for _, r := range rs {
		if r.Cursor > t.head {
			t.entries = append(t.entries, r)
			t.head = r.Cursor
		}
	}
	grew := len(t.entries) > n
	if over := len(t.entries) - tailSize; over > 0 {
		t.base = t.entries[over-1].Cursor
		t.entries = append(t.entries[:0:0], t.entries[over:]...)
	}
	t.mu.Unlock()
	if grew {
		t.changed.wake()
	}
}

// after returns up to limit entries with cursors above cursor that are
// unexpired at now, and whether memory holds every such entry read so far;
// when it does not, the caller reads the store.
func (t *tail) after(cursor int64, limit int, now time.Time) ([]waxseal.Revocation, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if cursor < t.base {
		return nil, false
	}
	i := sort.Search(len(t.entries), func(i int) bool { return t.entries[i].Cursor > cursor })
	var out []waxseal.Revocation
	for _, r := range t.entries[i:] {
		if len(out) == limit {
			break
		}
		if !r.Expires.Before(now) {
			out = append(out, r)
		}
	}
	return out, true
}

// streamSlots caps the open feed streams, in all and per client address,
// so that idle connections cannot exhaust the issuer.
type streamSlots struct {
	maxTotal, maxPerClient int

	mu       sync.Mutex
	total    int            // guarded by mu
	byClient map[string]int // guarded by mu
}

var errTooManyStreams = errors.New("too many feed streams")

// acquire takes a slot for client, or fails when either cap is reached.
func (s *streamSlots) acquire(client string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.maxTotal || s.byClient[client] >= s.maxPerClient {
		return nil, errTooManyStreams
	}
	if s.byClient == nil {
		s.byClient = map[string]int{}
	}
	s.total++
	s.byClient[client]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.total--
		if s.byClient[client]--; s.byClient[client] == 0 {
			delete(s.byClient, client)
		}
	}, nil
}

// tooManyStreams is the answer beyond the caps: a follower backs off and
// comes back, perhaps to another instance.
func tooManyStreams() error {
	return &oauthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
		Description: "too many revocation feed streams are open; retry later",
		header:      http.Header{"Retry-After": {strconv.Itoa(int(feedRetryAfter.Seconds()))}}}
}

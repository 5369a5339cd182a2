package ratelimit

import (
	"context"
	"crypto/sha256"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// MaxMemoryKeys is how many buckets a Memory keeps, about 10 MB. An attacker
// who sprays keys (from many IPv6 /64s, or at many user names) pushes out
// the buckets touched least recently; so that this cannot hand anyone a
// fresh burst, a bucket pushed out before it is full again is folded into a
// fixed-size sketch (below), and a key that comes back starts no fuller than
// it left.
const MaxMemoryKeys = 100_000

// The sketch of pushed-out buckets: sketchRows rows of sketchWidth cells,
// each a tat (see Policy.step). A bucket pushed out raises the cell its key
// hashes to in every row to at least its tat; a key that is not kept starts
// at the smallest of its cells. Since cells only grow, that is never below
// the key's own tat when it was pushed out (a count-min sketch, with max for
// sum): eviction never resets a bucket. A new key whose cells all collide
// with busy buckets starts emptier than it should; with 4 × 65,536 cells
// and tats that fall back to "full" with time that needs a pushed-out
// bucket in each of its four rows at once. The hashes are seeded per Memory,
// so nobody can choose keys that collide with someone else's. 2 MiB,
// allocated at the first push-out.
const (
	sketchRows  = 4
	sketchWidth = 1 << 16
)

type sketch [sketchRows][sketchWidth]int64

func (sk *sketch) cells(seed maphash.Seed, k *[sha256.Size]byte) (c [sketchRows]uint16) {
	h := maphash.Bytes(seed, k[:])
	for r := range c {
		c[r] = uint16(h >> (16 * r))
	}
	return c
}

func (sk *sketch) add(seed maphash.Seed, k *[sha256.Size]byte, tat int64) {
	for r, c := range sk.cells(seed, k) {
		sk[r][c] = max(sk[r][c], tat)
	}
}

func (sk *sketch) estimate(seed maphash.Seed, k *[sha256.Size]byte) int64 {
	est := int64(math.MaxInt64)
	for r, c := range sk.cells(seed, k) {
		est = min(est, sk[r][c])
	}
	return est
}

// Memory is a Limiter for a single issuer instance. With several instances
// behind a load balancer each keeps its own buckets and an attacker gets
// each budget once per instance; use Redis there.
type Memory struct {
	policy Policy

	mu sync.Mutex
	// index finds a bucket in buckets by the SHA-256 of its key, so that a
	// bucket has the same size whatever the key. buckets form a list, from
	// the most recently touched (buckets[head]) to the least (buckets[tail]);
	// a slot is reused when its bucket is forgotten. Guarded by mu.
	index      map[[sha256.Size]byte]int32
	buckets    []memBucket
	free       []int32 // slots of forgotten buckets
	head, tail int32   // -1 when there are no buckets
	// pushedOut remembers buckets pushed out for room; nil until the first.
	// Guarded by mu.
	pushedOut *sketch
	seed      maphash.Seed
}

type memBucket struct {
	key        [sha256.Size]byte
	tat        int64 // see Policy.step
	prev, next int32 // neighbours towards head and tail, or -1
}

// NewMemory returns a Memory whose buckets follow p. It panics when p
// cannot work (Burst below 1, Refill below a microsecond).
func NewMemory(p Policy) *Memory {
	p.check()
	return &Memory{policy: p, index: make(map[[sha256.Size]byte]int32), head: -1, tail: -1, seed: maphash.MakeSeed()}
}

// Allow implements Limiter. It never fails.
func (m *Memory) Allow(_ context.Context, key string, now time.Time) (Decision, error) {
	k := sha256.Sum256([]byte(key))
	t := now.UnixMicro()

	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropIdleLocked(t)
	i, ok := m.index[k]
	if !ok {
		i = m.addLocked(k, t)
	} else {
		m.unlinkLocked(i)
	}
	m.pushFrontLocked(i)
	b := &m.buckets[i]
	var d Decision
	b.tat, d = m.policy.step(b.tat, t)
	return d, nil
}

// Peek implements Limiter. It never fails, and leaves the buckets as they
// are (it does not even count as a touch for MaxMemoryKeys).
func (m *Memory) Peek(_ context.Context, key string, now time.Time) (Decision, error) {
	k := sha256.Sum256([]byte(key))
	m.mu.Lock()
	defer m.mu.Unlock()
	var tat int64
	if i, ok := m.index[k]; ok {
		tat = m.buckets[i].tat
	} else if m.pushedOut != nil {
		tat = m.pushedOut.estimate(m.seed, &k)
	}
	return m.policy.peek(tat, now.UnixMicro()), nil
}

// Reset implements Limiter. It never fails. A key that was once pushed out
// for room may still start emptier than full afterwards: the sketch cannot
// forget one key, and erring that way costs a user at most one refill.
func (m *Memory) Reset(_ context.Context, key string) error {
	k := sha256.Sum256([]byte(key))
	m.mu.Lock()
	defer m.mu.Unlock()
	if i, ok := m.index[k]; ok {
		m.removeLocked(i)
	}
	return nil
}

// dropIdleLocked forgets up to two of the least recently touched buckets
// that are full again by now, and so no different from no bucket. Idle
// buckets gather at the tail, so a Memory sheds them as it is used;
// MaxMemoryKeys bounds it in any case.
func (m *Memory) dropIdleLocked(now int64) {
	for range 2 {
		if m.tail < 0 || m.buckets[m.tail].tat > now {
			return
		}
		m.removeLocked(m.tail)
	}
}

// addLocked returns the slot of a new bucket for k, not yet linked in: full,
// unless k was pushed out before it was full again. When MaxMemoryKeys are
// kept, the least recently touched makes room, and is remembered in the
// sketch if it is not full by now.
func (m *Memory) addLocked(k [sha256.Size]byte, now int64) int32 {
	if len(m.index) >= MaxMemoryKeys {
		if old := &m.buckets[m.tail]; old.tat > now {
			if m.pushedOut == nil {
				m.pushedOut = new(sketch)
			}
			m.pushedOut.add(m.seed, &old.key, old.tat)
		}
		m.removeLocked(m.tail)
	}
	var tat int64
	if m.pushedOut != nil {
		tat = m.pushedOut.estimate(m.seed, &k)
	}
	var i int32
	if n := len(m.free); n > 0 {
		i, m.free = m.free[n-1], m.free[:n-1]
	} else {
		i = int32(len(m.buckets))
		m.buckets = append(m.buckets, memBucket{})
	}
	m.buckets[i] = memBucket{key: k, tat: tat, prev: -1, next: -1}
	m.index[k] = i
	return i
}

func (m *Memory) removeLocked(i int32) {
	m.unlinkLocked(i)
	delete(m.index, m.buckets[i].key)
	m.free = append(m.free, i)
}

func (m *Memory) unlinkLocked(i int32) {
	b := &m.buckets[i]
	if b.prev >= 0 {
		m.buckets[b.prev].next = b.next
	} else {
		m.head = b.next
	}
	if b.next >= 0 {
		m.buckets[b.next].prev = b.prev
	} else {
		m.tail = b.prev
	}
	b.prev, b.next = -1, -1
}

func (m *Memory) pushFrontLocked(i int32) {
	b := &m.buckets[i]
	b.next = m.head
	if m.head >= 0 {
		m.buckets[m.head].prev = i
	} else {
		m.tail = i
	}
	m.head = i
}

// size is how many buckets m keeps.
func (m *Memory) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.index)
}

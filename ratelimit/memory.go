package ratelimit

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// MaxMemoryKeys is how many buckets a Memory keeps, about 10 MB. An attacker
// who sprays random keys only pushes out the buckets touched least
// recently; a bucket that an ongoing attack keeps empty is touched by that
// attack, so pushing it out takes MaxMemoryKeys other keys between two of its
// attempts, all of them counted against the sprayer's address as well.
const MaxMemoryKeys = 100_000

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
	return &Memory{policy: p, index: make(map[[sha256.Size]byte]int32), head: -1, tail: -1}
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
		i = m.addLocked(k)
	} else {
		m.unlinkLocked(i)
	}
	m.pushFrontLocked(i)
	b := &m.buckets[i]
	var d Decision
	b.tat, d = m.policy.step(b.tat, t)
	return d, nil
}

// Reset implements Limiter. It never fails.
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

// addLocked returns the slot of a new, full bucket for k, not yet linked
// in; when MaxMemoryKeys are kept, the least recently touched makes room.
func (m *Memory) addLocked(k [sha256.Size]byte) int32 {
	if len(m.index) >= MaxMemoryKeys {
		m.removeLocked(m.tail)
	}
	var i int32
	if n := len(m.free); n > 0 {
		i, m.free = m.free[n-1], m.free[:n-1]
	} else {
		i = int32(len(m.buckets))
		m.buckets = append(m.buckets, memBucket{})
	}
	m.buckets[i] = memBucket{key: k, prev: -1, next: -1}
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

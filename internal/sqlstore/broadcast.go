package sqlstore

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is what Broadcaster.Watch returns once the broadcaster is
// closed.
var ErrClosed = errors.New("database closed")

// Broadcaster wakes the goroutines watching for new revocations in this
// process. Wakes coalesce: a watcher still busy with the last one gets
// one more, not one per Wake.
type Broadcaster struct {
	mu     sync.Mutex
	subs   map[chan struct{}]bool // guarded by mu
	closed bool                   // guarded by mu
}

// Wake wakes every watcher.
func (b *Broadcaster) Wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Watch calls wake once at the start and after each Wake until ctx ends or the broadcaster is
// closed; it returns ctx's error or ErrClosed.
func (b *Broadcaster) Watch(ctx context.Context, wake func()) error {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.subs == nil {
		b.subs = make(map[chan struct{}]bool)
	}
	b.subs[ch] = true
	// Wake once at the start: an append just before the caller subscribed
	// would otherwise wait for the next one. The channel is new and
	// buffered, so this does not block; under mu, it cannot race Close.
	ch <- struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-ch:
			if !ok {
				return ErrClosed
			}
			wake()
		}
	}
}

// Close makes every Watch return ErrClosed.
func (b *Broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		close(ch)
		delete(b.subs, ch)
	}
}

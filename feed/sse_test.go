package feed

import (
	"errors"
	"io"
	"testing"
)

// endless is an event stream whose one line never ends, counting what a
// reader takes from it.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	copy(p, "data: ")
	for i := range p {
		if e.read+i >= len("data: ") {
			p[i] = 'x'
		}
	}
	e.read += len(p)
	return len(p), nil
}

// TestEventReaderBoundsLine: a line longer than an event may be is refused
// as it is read, not after buffering it whole: a hostile or broken issuer
// cannot make a verifier allocate more than the limit and a buffer.
func TestEventReaderBoundsLine(t *testing.T) {
	src := &endless{}
	er := NewEventReader(io.LimitReader(src, 32<<20))
	if _, err := er.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("endless line: %v, want ErrEventTooLarge", err)
	}
	if limit := maxEventSize + 2*readBufferSize; src.read > limit {
		t.Errorf("read %d bytes of one line before refusing it, want at most %d", src.read, limit)
	}
}

package feed

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// Event is one Server-Sent Event.
type Event struct {
	ID    string
	Type  string
	Data  string
	Retry string
}

// maxEventSize bounds one event, so a hostile or broken stream cannot grow
// a reader's memory without limit.
const maxEventSize = 64 << 10

// ErrEventTooLarge is returned for an event over the size limit.
var ErrEventTooLarge = errors.New("feed: event too large")

// EventReader reads a text/event-stream as the HTML Living Standard's
// parsing rules describe: fields up to a blank line make one event,
// comment lines start with a colon, one space after the colon is dropped.
type EventReader struct {
	r *bufio.Reader
	// OnComment, if set, is called for each comment line: the keep-alives
	// that tell a reader the stream is alive while no event comes.
	OnComment func()
}

// readBufferSize is the reader's buffer: the most it reads ahead.
const readBufferSize = 4096

// NewEventReader returns a reader of the stream r.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{r: bufio.NewReaderSize(r, readBufferSize)}
}

// readLine returns the next line, with its end, refusing it as soon as it
// would take the event past limit bytes: a line is never buffered whole
// before its size is checked.
func (er *EventReader) readLine(limit int) (string, error) {
	var line []byte
	for {
		chunk, err := er.r.ReadSlice('\n')
		if len(line)+len(chunk) > limit {
			return "", ErrEventTooLarge
		}
		line = append(line, chunk...)
		if err != bufio.ErrBufferFull {
			return string(line), err
		}
	}
}

// Next returns the next event with data or a retry field. At the end of the
// stream it returns io.EOF, or io.ErrUnexpectedEOF if an event was cut off.
func (er *EventReader) Next() (Event, error) {
	var ev Event
	var data strings.Builder
	size, fields := 0, 0
	for {
		line, err := er.readLine(maxEventSize - size)
		if err != nil {
			if err == io.EOF && (fields > 0 || line != "") {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		size += len(line)
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if data.Len() > 0 || ev.Retry != "" {
				ev.Data = strings.TrimSuffix(data.String(), "\n")
				return ev, nil
			}
			ev, size, fields = Event{}, 0, 0
			continue
		}
		if line[0] == ':' {
			if er.OnComment != nil {
				er.OnComment()
			}
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		fields++
		switch name {
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.ID = value
			}
		case "event":
			ev.Type = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
		case "retry":
			ev.Retry = value
		}
	}
}

// Package strictjson reads JSON objects the way a token verifier must.
//
// encoding/json is lenient where a verifier cannot be: it matches member
// names case-insensitively, keeps the last of duplicate members (so two
// parsers can disagree about what a token says), and fills json.Number from a
// quoted string. This reader matches names exactly, rejects any duplicate
// member at any depth, rejects invalid UTF-8 and lone surrogates, accepts
// numbers only as JSON numbers, and allocates only for the values a caller
// keeps.
package strictjson

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrSyntax is the error every problem with the input wraps.
var ErrSyntax = errors.New("strictjson: invalid JSON")

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 32

// Decoder reads one JSON text. Its methods consume one value each.
type Decoder struct {
	data  []byte
	pos   int
	depth int
}

// NewDecoder returns a Decoder reading data.
func NewDecoder(data []byte) *Decoder { return &Decoder{data: data} }

// Reset makes d read data from the start.
func (d *Decoder) Reset(data []byte) { *d = Decoder{data: data} }

func (d *Decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, fmt.Sprintf(format, args...), d.pos)
}

func (d *Decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *Decoder) peek() byte {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// End reports an error unless only white space is left.
func (d *Decoder) End() error {
	if d.peek() != 0 || d.pos != len(d.data) {
		return d.errorf("unexpected data after the top-level value")
	}
	return nil
}

// Object reads an object, calling member for each member with the member's
// exact name. member must consume the value with one of d's methods. name is
// only valid during the call. A name seen twice is an error.
func (d *Decoder) Object(member func(name []byte) error) error {
	if d.peek() != '{' {
		return d.errorf("expected an object")
	}
	d.pos++
	if d.depth++; d.depth > maxDepth {
		return d.errorf("nesting too deep")
	}
	defer func() { d.depth-- }()
	// Names are kept to find duplicates; objects in tokens are small, so a
	// linear scan beats a map.
	var seenBuf [16][]byte
	seen := seenBuf[:0]
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.errorf("expected a member name")
		}
		name, err := d.stringBytes()
		if err != nil {
			return err
		}
		for _, s := range seen {
			if string(s) == string(name) {
				return d.errorf("duplicate member %q", name)
			}
		}
		seen = append(seen, name)
		if d.peek() != ':' {
			return d.errorf("expected ':'")
		}
		d.pos++
		if err := member(name); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.errorf("expected ',' or '}'")
		}
	}
}

// String reads a string value.
func (d *Decoder) String() (string, error) {
	if d.peek() != '"' {
		return "", d.errorf("expected a string")
	}
	b, err := d.stringBytes()
	return string(b), err
}

// Array reads an array, calling elem once for each element; elem must
// consume the element with one of d's methods.
func (d *Decoder) Array(elem func() error) error {
	if d.peek() != '[' {
		return d.errorf("expected an array")
	}
	d.pos++
	if d.depth++; d.depth > maxDepth {
		return d.errorf("nesting too deep")
	}
	defer func() { d.depth-- }()
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.errorf("expected ',' or ']'")
		}
	}
}

// StringArray reads an array whose elements are all strings.
func (d *Decoder) StringArray() ([]string, error) {
	out := []string{}
	err := d.Array(func() error {
		s, err := d.String()
		out = append(out, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StringOrArray reads a string, returned as one element, or an array of
// strings, as the JWT "aud" claim allows.
func (d *Decoder) StringOrArray() ([]string, error) {
	if d.peek() == '"' {
		s, err := d.String()
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	return d.StringArray()
}

// Number reads a number literal, never a quoted one.
func (d *Decoder) Number() (float64, error) {
	d.skipSpace()
	start := d.pos
	if err := d.scanNumber(); err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(d.data[start:d.pos]), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, d.errorf("number out of range")
	}
	return f, nil
}

// Bool reads true or false.
func (d *Decoder) Bool() (bool, error) {
	switch d.peek() {
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	}
	return false, d.errorf("expected a boolean")
}

// Skip reads and checks any value, with the same strictness, and discards it.
func (d *Decoder) Skip() error {
	switch d.peek() {
	case '{':
		return d.Object(func([]byte) error { return d.Skip() })
	case '[':
		return d.Array(d.Skip)
	case '"':
		_, err := d.stringBytes()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.scanNumber()
}

func (d *Decoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return d.errorf("invalid literal")
	}
	d.pos += len(lit)
	return nil
}

// scanNumber checks the RFC 8259 number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Decoder) scanNumber() error {
	p, b := d.pos, d.data
	digits := func() bool {
		s := p
		for p < len(b) && b[p] >= '0' && b[p] <= '9' {
			p++
		}
		return p > s
	}
	if p < len(b) && b[p] == '-' {
		p++
	}
	switch {
	case p < len(b) && b[p] == '0':
		p++
	case p < len(b) && b[p] >= '1' && b[p] <= '9':
		digits()
	default:
		return d.errorf("expected a value")
	}
	if p < len(b) && b[p] == '.' {
		p++
		if !digits() {
			return d.errorf("invalid number")
		}
	}
	if p < len(b) && (b[p] == 'e' || b[p] == 'E') {
		p++
		if p < len(b) && (b[p] == '+' || b[p] == '-') {
			p++
		}
		if !digits() {
			return d.errorf("invalid number")
		}
	}
	d.pos = p
	return nil
}

// stringBytes reads a string starting at the opening quote. It returns a
// slice of the input when the string has no escapes, and a new slice
// otherwise.
func (d *Decoder) stringBytes() ([]byte, error) {
	d.pos++ // opening quote
	start := d.pos
	b := d.data
	for d.pos < len(b) {
		c := b[d.pos]
		switch {
		case c == '"':
			s := b[start:d.pos]
			d.pos++
			return s, nil
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			return nil, d.errorf("control character in string")
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, n := utf8.DecodeRune(b[d.pos:])
			if r == utf8.RuneError && n <= 1 {
				return nil, d.errorf("invalid UTF-8 in string")
			}
			d.pos += n
		}
	}
	return nil, d.errorf("unterminated string")
}

// unescape continues a string that has an escape at d.pos.
func (d *Decoder) unescape(start int) ([]byte, error) {
	b := d.data
	out := append(make([]byte, 0, d.pos-start+16), b[start:d.pos]...)
	for d.pos < len(b) {
		c := b[d.pos]
		switch {
		case c == '"':
			d.pos++
			return out, nil
		case c == '\\':
			if d.pos+1 >= len(b) {
				return nil, d.errorf("unterminated string")
			}
			e := b[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := d.hex4()
				if err != nil {
					return nil, err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || d.pos+1 >= len(b) || b[d.pos] != '\\' || b[d.pos+1] != 'u' {
						return nil, d.errorf("lone surrogate in string")
					}
					d.pos += 2
					r2, err := d.hex4()
					if err != nil {
						return nil, err
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return nil, d.errorf("invalid surrogate pair in string")
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, d.errorf("invalid escape in string")
			}
		case c < 0x20:
			return nil, d.errorf("control character in string")
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.pos++
		default:
			r, n := utf8.DecodeRune(b[d.pos:])
			if r == utf8.RuneError && n <= 1 {
				return nil, d.errorf("invalid UTF-8 in string")
			}
			out = append(out, b[d.pos:d.pos+n]...)
			d.pos += n
		}
	}
	return nil, d.errorf("unterminated string")
}

func (d *Decoder) hex4() (rune, error) {
	if len(d.data)-d.pos < 4 {
		return 0, d.errorf("invalid \\u escape")
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, d.errorf("invalid \\u escape")
		}
	}
	d.pos += 4
	return r, nil
}

// Document reads a whole JSON text that must be one object, as Object
// does, and reports an error if anything but white space follows it.
func (d *Decoder) Document(member func(name []byte) error) error {
	if err := d.Object(member); err != nil {
		return err
	}
	return d.End()
}

package strictjson

import (
	"encoding/json"
	"errors"
	"testing"
)

// skipAll reads one top-level value of any kind and checks nothing follows.
func skipAll(data []byte) error {
	d := NewDecoder(data)
	if err := d.Skip(); err != nil {
		return err
	}
	return d.End()
}

func TestSkip(t *testing.T) {
	tests := []struct {
		in    string
		valid bool
	}{
		{`{}`, true},
		{` { "a" : [ 1 , -0.5e+3 , "x" , true , false , null , { } , [ ] ] } `, true},
		{`{"a":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t"}`, true},
		{`"é"`, true},
		{`0`, true},
		{`-0`, true},
		{`1E9`, true},
		{`{"a":1,"b":{"a":1}}`, true}, // the same name at another depth is no duplicate
		{``, false},
		{`{`, false},
		{`{"a"}`, false},
		{`{"a":}`, false},
		{`{"a":1,}`, false},
		{`[1,]`, false},
		{`{"a":1 "b":2}`, false},
		{`{"a":1,"a":1}`, false},
		{`{"a":1,"\u0061":1}`, false},
		{`{"a":{"b":1,"b":2}}`, false},
		{`[{"b":1,"b":2}]`, false},
		{`{a:1}`, false},
		{`{'a':1}`, false},
		{`01`, false},
		{`1.`, false},
		{`.5`, false},
		{`1e`, false},
		{`+1`, false},
		{`NaN`, false},
		{`Infinity`, false},
		{`tru`, false},
		{`nul`, false},
		{`"\x"`, false},
		{`"\u12"`, false},
		{`"\ud800"`, false},
		{`"\udc00"`, false},
		{`"\ud800\u0041"`, false},
		{"\"\xff\"", false},
		{"\"\xc3\"", false},
		{"\"\xed\xa0\x80\"", false}, // UTF-8 encoded surrogate
		{"\"a\tb\"", false},
		{`"abc`, false},
		{`{} {}`, false},
		{`{}x`, false},
	}
	for _, tt := range tests {
		err := skipAll([]byte(tt.in))
		if (err == nil) != tt.valid {
			t.Errorf("Skip(%q) = %v, want valid=%v", tt.in, err, tt.valid)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("Skip(%q) error %v does not wrap ErrSyntax", tt.in, err)
		}
	}
}

func TestNesting(t *testing.T) {
	deep := func(n int) []byte {
		b := make([]byte, 0, 2*n)
		for range n {
			b = append(b, '[')
		}
		for range n {
			b = append(b, ']')
		}
		return b
	}
	if err := skipAll(deep(maxDepth)); err != nil {
		t.Errorf("depth %d refused: %v", maxDepth, err)
	}
	if err := skipAll(deep(maxDepth + 1)); err == nil {
		t.Errorf("depth %d accepted", maxDepth+1)
	}
	if err := skipAll(deep(100000)); err == nil {
		t.Error("depth 100000 accepted")
	}
}

func TestObjectNamesExact(t *testing.T) {
	d := NewDecoder([]byte(`{"Sub":"a","sub":"b","s\u0075b2":"c"}`))
	got := map[string]string{}
	err := d.Object(func(name []byte) error {
		s, err := d.String()
		got[string(name)] = s
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["Sub"] != "a" || got["sub"] != "b" || got["sub2"] != "c" || len(got) != 3 {
		t.Errorf("members = %v", got)
	}
}

func TestTypedReaders(t *testing.T) {
	read := map[string]func(d *Decoder) error{
		"Number":        func(d *Decoder) error { _, err := d.Number(); return err },
		"String":        func(d *Decoder) error { _, err := d.String(); return err },
		"StringArray":   func(d *Decoder) error { _, err := d.StringArray(); return err },
		"StringOrArray": func(d *Decoder) error { _, err := d.StringOrArray(); return err },
		"Bool":          func(d *Decoder) error { _, err := d.Bool(); return err },
	}
	tests := []struct {
		reader, in string
		valid      bool
	}{
		{"Number", `5`, true},
		{"Number", `"5"`, false},
		{"Number", `1e400`, false},
		{"String", `"5"`, true},
		{"String", `5`, false},
		{"String", `null`, false},
		{"StringArray", `["a","b"]`, true},
		{"StringArray", `["a",1]`, false},
		{"StringArray", `"a"`, false},
		{"StringOrArray", `"a"`, true},
		{"StringOrArray", `["a"]`, true},
		{"StringOrArray", `[["a"]]`, false},
		{"Bool", `true`, true},
		{"Bool", `1`, false},
	}
	for _, tt := range tests {
		d := NewDecoder([]byte(tt.in))
		err := read[tt.reader](d)
		if err == nil {
			err = d.End()
		}
		if (err == nil) != tt.valid {
			t.Errorf("%s(%s) = %v, want valid=%v", tt.reader, tt.in, err, tt.valid)
		}
	}
}

// FuzzSkip checks that the strict reader never panics and never accepts a
// text that encoding/json would reject: it may only be stricter.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":[1,"b",{"c":null}]}`, `{"a":1,"a":2}`, `"\ud83d\ude00"`, `-1.5e-3`, `[[[[]]]]`,
		"\"\xff\"", `{"exp":"1"}`, `{"iss":"x","aud":["a","b"],"exp":1.5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if skipAll(data) == nil && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
	})
}

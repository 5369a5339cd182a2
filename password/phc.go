package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// b64 is the encoding PHC strings use: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// maxPHCLen bounds what parsePHC reads; the longest valid string is shorter.
const maxPHCLen = 256

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
		p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func errHash(format string, args ...any) error {
	return fmt.Errorf("password: invalid hash: "+format, args...)
}

// parsePHC reads an argon2id PHC string as encodePHC writes it, and nothing
// else. The PHC format allows more: other algorithms, a missing version
// (meaning argon2 1.0), parameters in any order, and keyid and data
// parameters. This parser rejects all of that, and rejects every string that
// does not re-encode to itself, so a stored hash has exactly one spelling and
// can never name a cost outside the limits of Params.
func parsePHC(s string) (p Params, salt, key []byte, err error) {
	if len(s) > maxPHCLen {
		return Params{}, nil, nil, errHash("longer than %d bytes", maxPHCLen)
	}
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return Params{}, nil, nil, errHash("not a PHC string")
	}
	if f[1] != "argon2id" {
		return Params{}, nil, nil, errHash("algorithm %q is not argon2id", f[1])
	}
	if f[2] != "v=19" {
		return Params{}, nil, nil, errHash("version %q is not v=19", f[2])
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return Params{}, nil, nil, errHash("want parameters m, t and p")
	}
	var n [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		if !ok {
			return Params{}, nil, nil, errHash("want parameter %sN at position %d", name, i+1)
		}
		if n[i], ok = parseDecimal(v); !ok {
			return Params{}, nil, nil, errHash("parameter %s%q is not a decimal number", name, v)
		}
	}
	if n[2] > 255 {
		return Params{}, nil, nil, errHash("parallelism %d above 255", n[2])
	}
	if salt, err = decodeB64(f[4]); err != nil {
		return Params{}, nil, nil, errHash("salt: %s", err)
	}
	if key, err = decodeB64(f[5]); err != nil {
		return Params{}, nil, nil, errHash("key: %s", err)
	}
	p = Params{Memory: n[0], Time: n[1], Threads: uint8(n[2]), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, errHash("%s", err)
	}
	return p, salt, key, nil
}

// parseDecimal accepts only the canonical decimal form: digits, no sign, no
// leading zero.
func parseDecimal(s string) (uint32, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err == nil
}

// decodeB64 decodes s and insists that s is how the result encodes:
// encoding/base64 skips CR and LF, which would give one hash many spellings.
func decodeB64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(b) != s {
		return nil, fmt.Errorf("not canonical base64")
	}
	return b, nil
}

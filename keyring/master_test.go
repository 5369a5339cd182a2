package keyring

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMasterKey(t *testing.T) {
	raw := testMaster.key[:]
	std := base64.StdEncoding.EncodeToString(raw)
	url := base64.URLEncoding.EncodeToString(raw)
	if std == url {
		t.Fatal("test key does not tell the alphabets apart")
	}
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"standard", std, true},
		{"standard unpadded", strings.TrimRight(std, "="), true},
		{"url", url, true},
		{"url unpadded", strings.TrimRight(url, "="), true},
		{"surrounding white space", "\t " + std + "\r\n", true},
		{"empty", "", false},
		{"31 bytes", base64.StdEncoding.EncodeToString(raw[:31]), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 0)), false},
		{"hex", hex.EncodeToString(raw), false},
		{"mixed alphabets", std[:2] + url[2:], false},
		{"inner white space", std[:20] + " " + std[20:], false},
		{"non-canonical padding bits", strings.TrimRight(std, "=")[:42] + "v", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseMasterKey(tc.in)
			if !tc.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				if tc.in != "" && strings.Contains(err.Error(), tc.in) {
					t.Errorf("error quotes the input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k != testMaster {
				t.Error("parsed a different key")
			}
		})
	}
}

func TestGenerateMasterKey(t *testing.T) {
	a, err := GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.isZero() {
		t.Error("generated master keys are not random")
	}
	if _, err := GenerateMasterKey(strings.NewReader("short")); err == nil {
		t.Error("generated a key from 5 random bytes")
	}
}

func TestMasterKeyIsNeverPrinted(t *testing.T) {
	secrets := []string{
		hex.EncodeToString(testMaster.key[:]),
		base64.StdEncoding.EncodeToString(testMaster.key[:]),
		fmt.Sprint(testMaster.key[:]),
		fmt.Sprint(testMaster.key[4:8]), // the decimal bytes "[4 5 6 7]"
	}
	wrapped := struct{ K MasterKey }{testMaster}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b"} {
		for _, out := range []string{fmt.Sprintf(verb, testMaster), fmt.Sprintf(verb, &testMaster), fmt.Sprintf(verb, wrapped)} {
			for _, s := range secrets {
				if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
					t.Errorf("%s prints the key: %s", verb, out)
				}
			}
		}
	}
	if got := testMaster.String(); !strings.Contains(got, "REDACTED") {
		t.Errorf("String() = %q", got)
	}
	if data, err := json.Marshal(testMaster); err != nil || string(data) != "{}" {
		t.Errorf("json.Marshal = %s, %v", data, err)
	}
}

func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := WriteMasterKeyFile(path, testMaster); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("written with mode %04o, want 0600", fi.Mode().Perm())
	}
	k, err := LoadMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if k != testMaster {
		t.Error("loaded a different key")
	}

	// Never overwrite: the old key is all that opens the old records.
	other, err := GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteMasterKeyFile(path, other); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second write: %v, want fs.ErrExist", err)
	}
	if k, err := LoadMasterKeyFile(path); err != nil || k != testMaster {
		t.Errorf("the first key was replaced (err %v)", err)
	}

	if _, err := LoadMasterKeyFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestLoadMasterKeyFilePermissions(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o640, false},
		{0o644, false},
		{0o604, false},
		{0o660, false},
		{0o666, false},
	} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			writeFileMode(t, path, []byte(base64.StdEncoding.EncodeToString(testMaster.key[:])), tc.mode)
			_, err := LoadMasterKeyFile(path)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("err = %v, want ErrInsecurePermissions", err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("%04o", tc.mode)) {
				t.Errorf("error does not name the path and mode: %v", err)
			}
		})
	}
}

// writeFileMode writes data to path with exactly mode, whatever the umask.
func writeFileMode(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseMasterKey(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString(testMaster.key[:]))
	f.Add(base64.RawURLEncoding.EncodeToString(testMaster.key[:]))
	f.Add(" \n")
	f.Add("====")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseMasterKey(s)
		if err != nil {
			return
		}
		k2, err := ParseMasterKey(base64.StdEncoding.EncodeToString(k.key[:]))
		if err != nil || k2 != k {
			t.Errorf("re-encoded key does not parse back: %v", err)
		}
	})
}

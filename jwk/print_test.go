package jwk

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestKeysNeverPrintSecrets prints every key type every way a program might
// (fmt verbs, nested in a struct, slog's text and JSON handlers) and checks
// that no form of the secret material appears: the raw bytes, hex, base64,
// or Go's decimal []byte form.
func TestKeysNeverPrintSecrets(t *testing.T) {
	for _, alg := range []Algorithm{EdDSA, ES256, RS256, HS256} {
		t.Run(string(alg), func(t *testing.T) {
			priv, err := Generate(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			secret, _ := priv.MarshalBinary()
			values := map[string]any{"PrivateKey": priv, "*PrivateKey value": *priv}
			if alg == HS256 {
				// An HS256 public key is the shared secret itself.
				values["PublicKey"] = priv.Public()
				values["*PublicKey value"] = *priv.Public()
			}
			for name, v := range values {
				var outs []string
				for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
					outs = append(outs, fmt.Sprintf(verb, v))
				}
				outs = append(outs,
					fmt.Sprint(v), fmt.Sprintln(v),
					fmt.Sprintf("%+v", struct{ Key any }{v}),
					fmt.Sprintf("%#v", []any{v}))
				var text, js bytes.Buffer
				slog.New(slog.NewTextHandler(&text, nil)).Info("key", "key", v)
				slog.New(slog.NewJSONHandler(&js, nil)).Info("key", "key", v)
				outs = append(outs, text.String(), js.String())
				for _, out := range outs {
					if leak := leaked(out, secret); leak != "" {
						t.Errorf("%s printed its secret (%s): %s", name, leak, out)
					}
					if !strings.Contains(out, priv.ID()) {
						t.Errorf("%s printed without its kid: %s", name, out)
					}
				}
			}
		})
	}
}

// leaked names the form of secret found in out, or "".
func leaked(out string, secret []byte) string {
	// A window of the secret is enough to count: 8 bytes of a key are not
	// printed by accident. The window is taken from the middle, past any
	// fixed PKCS #8 prefix.
	w := secret[len(secret)/2 : len(secret)/2+8]
	dec := strings.Trim(fmt.Sprint(w), "[]")
	switch {
	case strings.Contains(out, string(w)):
		return "raw"
	case strings.Contains(strings.ToLower(out), hex.EncodeToString(w)):
		return "hex"
	case strings.Contains(out, dec):
		return "decimal"
	case strings.Contains(out, base64.RawURLEncoding.EncodeToString(w)[:8]),
		strings.Contains(out, base64.StdEncoding.EncodeToString(w)[:8]):
		return "base64"
	}
	return ""
}

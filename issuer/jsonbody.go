package issuer

import (
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/waxseal/waxseal/internal/strictjson"
)

// readJSON reads a JSON object body into fields, which map each allowed
// member name to a *string, *[]string, *bool or *int. Member names match
// exactly, a member given twice or not in fields is an error, and so is
// any other content type: an API that guesses at what it was sent ends up
// doing something nobody asked for.
func readJSON(r *http.Request, fields map[string]any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return invalidRequest("Content-Type must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return invalidRequest("reading the request body failed")
	}
	if len(body) > maxBody {
		return invalidRequest("request body over %d bytes", maxBody)
	}
	d := strictjson.NewDecoder(body)
	err = d.Document(func(name []byte) error {
		dst, ok := fields[string(name)]
		if !ok {
			return fmt.Errorf("unknown member %q", name)
		}
		var err error
		switch p := dst.(type) {
		case *string:
			*p, err = d.String()
		case *[]string:
			*p, err = d.StringArray()
		case *bool:
			*p, err = d.Bool()
		case *int:
			var f float64
			if f, err = d.Number(); err == nil {
				if f != float64(int(f)) {
					return fmt.Errorf("member %q must be an integer", name)
				}
				*p = int(f)
			}
		default:
			panic(fmt.Sprintf("issuer: readJSON: unsupported destination %T", dst))
		}
		return err
	})
	if err != nil {
		return invalidRequest("malformed JSON body: %v", err)
	}
	return nil
}

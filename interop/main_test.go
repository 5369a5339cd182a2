package interop

import (
	"os"
	"testing"

	"github.com/waxseal/waxseal/interop/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

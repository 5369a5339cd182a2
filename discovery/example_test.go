package discovery_test

import (
	"fmt"

	"github.com/waxseal/waxseal/discovery"
)

func ExampleWellKnownURL() {
	u, err := discovery.WellKnownURL("https://auth.example/tenant")
	if err != nil {
		panic(err)
	}
	fmt.Println(u)
	// Output: https://auth.example/.well-known/oauth-authorization-server/tenant
}

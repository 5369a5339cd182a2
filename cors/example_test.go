package cors_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/waxseal/waxseal/cors"
)

func Example() {
	c, err := cors.New(cors.Config{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "notes")
	})
	h := c.Handler(api)

	// A browser asks whether app.example.com may PUT with a bearer token.
	r := httptest.NewRequest(http.MethodOptions, "/notes/1", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "PUT")
	r.Header.Set("Access-Control-Request-Headers", "authorization")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Access-Control-Allow-Methods"))

	// A look-alike origin gets nothing.
	r.Header.Set("Origin", "https://app.example.com.evil.net")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Access-Control-Allow-Origin") == "")
	// Output:
	// 204 https://app.example.com GET, POST, PUT, PATCH, DELETE
	// 403 true
}

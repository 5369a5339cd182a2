package issuer

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 description of every endpoint of the issuer,
// in YAML. Its paths are relative to the issuer URL.
//
//go:embed openapi.yaml
var OpenAPI []byte

// handleOpenAPI serves OpenAPI. It holds nothing secret and changes only
// with the binary.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, err := w.Write(OpenAPI)
	return err
}

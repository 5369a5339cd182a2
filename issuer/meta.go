package issuer

import (
	"net/http"
	"strconv"
)

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, s.Metadata())
	return nil
}

// handleJWKS serves the public keys. Verifiers may cache them for the ring's
// JWKSMaxAge: a new key is published for longer than that before it signs.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.keys.JWKSMaxAge().Seconds())))
	w.Header().Set("Content-Type", "application/jwk-set+json")
	writeJSON(w, http.StatusOK, s.keys.PublicSet())
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.Ping(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "not ready: database", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return errAnswered
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ok\n"))
	return err
}

// Package notes is a small per-user notes API behind the waxseal guard: a
// service that trusts the issuer's access tokens, checks them locally on
// every request, and keeps its own data in a SQLite file that any number of
// its instances share. It is an example of using package guard.
//
//	GET    /notes       the caller's notes
//	POST   /notes       {"text": "..."}: add a note
//	DELETE /notes/{id}  delete one of the caller's notes; role "admin": anyone's
//	GET    /healthz     200 when the guard can promise revocations and the file answers
package notes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/waxseal/waxseal/guard"
)

// Limits of a note.
const (
	MaxTextLength = 1000    // characters of one note
	maxBody       = 4 << 10 // bytes of a request body
)

// AdminRole is the role that may delete anyone's notes.
const AdminRole = "admin"

// Config says which issuer the service trusts and where it keeps notes.
type Config struct {
	// Guard is the guard's configuration; Issuer and Audience are required.
	// A nil Guard.Logger means Logger.
	Guard guard.Config
	// Database is the path of the SQLite file. Required.
	Database string
	// Logger receives errors. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of new notes. Nil means time.Now.
	Now func() time.Time
}

// Server serves the notes API. It is an http.Handler.
type Server struct {
	guard *guard.Guard
	store *Store
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
}

// Open opens the notes file and starts the guard.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Database == "" {
		return nil, errors.New("notes: Config.Database is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Guard.Logger == nil {
		cfg.Guard.Logger = cfg.Logger
	}
	store, err := OpenStore(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	g, err := guard.New(ctx, cfg.Guard)
	if err != nil {
		store.Close()
		return nil, err
	}
	s := &Server{guard: g, store: store, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	s.mux.Handle("GET /notes", g.Require(s.handle(s.list)))
	s.mux.Handle("POST /notes", g.Require(s.handle(s.create)))
	s.mux.Handle("DELETE /notes/{id}", g.Require(s.handle(s.delete)))
	s.mux.Handle("GET /healthz", s.handle(s.health))
	return s, nil
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// WaitReady blocks until the guard has caught up with the revocation feed,
// or ctx ends. Until then protected routes answer 503.
func (s *Server) WaitReady(ctx context.Context) error { return s.guard.WaitReady(ctx) }

// Close stops the guard and closes the file.
func (s *Server) Close() error {
	s.guard.Close()
	return s.store.Close()
}

// clientError is a refusal whose message is meant for the client.
type clientError struct {
	status int
	msg    string
}

func (e *clientError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &clientError{status, fmt.Sprintf(format, args...)}
}

// handle turns a handler that returns an error into an http.Handler: the
// one place where errors become answers. A clientError is shown as it is;
// anything else is logged and shown as a bare 500.
func (s *Server) handle(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var ce *clientError
		if !errors.As(err, &ce) {
			s.log.ErrorContext(r.Context(), "notes: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			ce = &clientError{http.StatusInternalServerError, "internal error"}
		}
		writeJSON(w, ce.status, map[string]string{"error": ce.msg})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// caller returns the verified subject of the request; the guard put it there.
func caller(r *http.Request) (sub string, admin bool) {
	c, ok := guard.ClaimsFrom(r.Context())
	if !ok {
		panic("notes: handler reached without the guard")
	}
	return c.Subject, c.HasRole(AdminRole)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	sub, _ := caller(r)
	notes, err := s.store.List(r.Context(), sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, notes)
	return nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) error {
	sub, _ := caller(r)
	text, err := readText(w, r)
	if err != nil {
		return err
	}
	n, err := s.store.Add(r.Context(), sub, text, s.now())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/notes/"+strconv.FormatInt(n.ID, 10))
	writeJSON(w, http.StatusCreated, n)
	return nil
}

// readText reads and checks the body of POST /notes: one JSON object with
// one member, "text", a string of 1 to MaxTextLength characters that is not
// only space and holds no control characters but newline and tab.
func readText(w http.ResponseWriter, r *http.Request) (string, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "", refuse(http.StatusUnsupportedMediaType, "send application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var body struct {
		Text *string `json:"text"`
	}
	if err := dec.Decode(&body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", refuse(http.StatusRequestEntityTooLarge, "the body is over %d bytes", maxBody)
		}
		return "", refuse(http.StatusBadRequest, "the body must be a JSON object with only a \"text\" string")
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", refuse(http.StatusBadRequest, "the body must be one JSON object")
	}
	switch {
	case body.Text == nil:
		return "", refuse(http.StatusBadRequest, "\"text\" is required")
	case strings.TrimSpace(*body.Text) == "":
		return "", refuse(http.StatusBadRequest, "\"text\" is empty")
	case utf8.RuneCountInString(*body.Text) > MaxTextLength:
		return "", refuse(http.StatusBadRequest, "\"text\" is over %d characters", MaxTextLength)
	case strings.ContainsFunc(*body.Text, func(c rune) bool { return unicode.IsControl(c) && c != '\n' && c != '\t' }):
		return "", refuse(http.StatusBadRequest, "\"text\" holds a control character")
	}
	return *body.Text, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) error {
	sub, admin := caller(r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return refuse(http.StatusNotFound, "no such note")
	}
	switch err := s.store.Delete(r.Context(), id, sub, admin); {
	case errors.Is(err, ErrNotFound):
		return refuse(http.StatusNotFound, "no such note")
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// health answers the load balancer: an instance that cannot promise
// revocations, or cannot read its file, should get no traffic.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if !s.guard.Ready() {
		return refuse(http.StatusServiceUnavailable, "the revocation feed is not current")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.ErrorContext(ctx, "notes: health check", "err", err)
		return refuse(http.StatusServiceUnavailable, "the database does not answer")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

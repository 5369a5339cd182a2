// Package sessionapp is the notes API of examples/notes with server-side
// sessions in place of bearer tokens: the design waxseal is measured
// against. It keeps its notes in the same SQLite file format (package
// notes' Store), and authenticates with a session cookie managed by
// alexedwards/scs, kept either in the instance's memory (sticky routing
// needed) or in Redis (any instance can serve any request).
//
//	POST /login        username, password (form or JSON): starts a session
//	POST /logout       ends the session
//	GET  /notes        the caller's notes
//	POST /notes        {"text": "..."} as JSON, or text=... as a form
//	DELETE /notes/{id} deletes one of the caller's notes
//	GET  /healthz      200
package sessionapp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/redis/go-redis/v9"

	"github.com/waxseal/waxseal/examples/notes/notes"
	"github.com/waxseal/waxseal/password"
)

// Config says where sessions and notes live and how the cookie looks.
type Config struct {
	// Redis, if set, is the URL of the shared session store; empty keeps
	// sessions in this process's memory.
	Redis string
	// Database is the notes SQLite file, shared by every instance.
	Database string
	// Users is a JSON file of {"name": "argon2id PHC hash"}.
	Users string
	// SameSite of the session cookie: "lax" (scs's default), "strict" or
	// "none" (which also marks it Secure, as browsers require).
	SameSite string
	// CSRF requires the session's anti-CSRF token in an X-CSRF-Token
	// header or a csrf_token form field on every state-changing request.
	CSRF bool
	// IdleTimeout ends a session unused for this long. scs then rewrites
	// the session on every request to push its deadline.
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Server is the session-cookie notes API.
type Server struct {
	sm     *scs.SessionManager
	store  *notes.Store
	users  map[string]string
	hasher *password.Hasher
	csrf   bool
	log    *slog.Logger
	rdb    *redis.Client
	mux    *http.ServeMux
}

// Open builds the server.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	data, err := os.ReadFile(cfg.Users)
	if err != nil {
		return nil, fmt.Errorf("sessionapp: users: %w", err)
	}
	users := map[string]string{}
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, fmt.Errorf("sessionapp: users: %w", err)
	}
	// The same argon2id cost and concurrency bound as the issuer's logins.
	h, err := password.NewHasher(password.HasherConfig{})
	if err != nil {
		return nil, fmt.Errorf("sessionapp: %w", err)
	}
	sm := scs.New()
	sm.Lifetime = 24 * time.Hour
	sm.IdleTimeout = cfg.IdleTimeout
	sm.Cookie.Name = "session"
	switch cfg.SameSite {
	case "", "lax":
		sm.Cookie.SameSite = http.SameSiteLaxMode
	case "strict":
		sm.Cookie.SameSite = http.SameSiteStrictMode
	case "none":
		sm.Cookie.SameSite = http.SameSiteNoneMode
		sm.Cookie.Secure = true
	default:
		return nil, fmt.Errorf("sessionapp: unknown SameSite %q", cfg.SameSite)
	}
	s := &Server{sm: sm, users: users, hasher: h, csrf: cfg.CSRF, log: cfg.Logger, mux: http.NewServeMux()}
	if cfg.Redis != "" {
		opt, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("sessionapp: redis: %w", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
		s.rdb = redis.NewClient(opt)
		sm.Store = goredisstore.New(s.rdb)
	} else {
		sm.Store = memstore.NewWithCleanupInterval(time.Minute)
	}
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.log.Error("sessionapp: session store", "err", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
	}
	s.store, err = notes.OpenStore(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("GET /notes", s.authed(s.list))
	s.mux.HandleFunc("POST /notes", s.authed(s.create))
	s.mux.HandleFunc("DELETE /notes/{id}", s.authed(s.delete))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	return s, nil
}

// Handler is the API with the session middleware around it.
func (s *Server) Handler() http.Handler { return s.sm.LoadAndSave(s.mux) }

// Close releases the store and the Redis client.
func (s *Server) Close() error {
	if s.rdb != nil {
		s.rdb.Close()
	}
	return s.store.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// formOrJSON reads the named string fields from a form or a JSON object.
func formOrJSON(w http.ResponseWriter, r *http.Request, names ...string) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	out := map[string]string{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
			return nil, errors.New("the body must be a JSON object of strings")
		}
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := r.ParseForm(); err != nil {
			return nil, errors.New("unreadable form")
		}
		for _, n := range append(names, "csrf_token") {
			out[n] = r.PostForm.Get(n)
		}
	default:
		return nil, errors.New("send JSON or a form")
	}
	return out, nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	f, err := formOrJSON(w, r, "username", "password")
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	hash, known := s.users[f["username"]]
	ok := false
	if known {
		ok, _, err = s.hasher.Verify(r.Context(), f["password"], hash)
	} else {
		err = s.hasher.VerifyDummy(r.Context(), f["password"])
	}
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "2")
		fail(w, http.StatusServiceUnavailable, "busy")
		return
	}
	if err != nil && known {
		s.log.Error("sessionapp: login", "err", err)
	}
	if !ok {
		fail(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	// A new token at login, against session fixation.
	if err := s.sm.RenewToken(r.Context()); err != nil {
		fail(w, http.StatusServiceUnavailable, "session store unavailable")
		return
	}
	csrf := make([]byte, 24)
	rand.Read(csrf)
	tok := base64.RawURLEncoding.EncodeToString(csrf)
	s.sm.Put(r.Context(), "user", f["username"])
	s.sm.Put(r.Context(), "csrf", tok)
	writeJSON(w, http.StatusOK, map[string]string{"user": f["username"], "csrf_token": tok})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if s.sm.GetString(r.Context(), "user") == "" {
		fail(w, http.StatusUnauthorized, "not logged in")
		return
	}
	if err := s.sm.Destroy(r.Context()); err != nil {
		fail(w, http.StatusServiceUnavailable, "session store unavailable")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// authed lets a request through only with a live session; state-changing
// requests also need the CSRF token when the server requires one.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := s.sm.GetString(r.Context(), "user")
		if user == "" {
			fail(w, http.StatusUnauthorized, "log in first")
			return
		}
		h(w, r, user)
	}
}

func (s *Server) checkCSRF(r *http.Request, f map[string]string) bool {
	if !s.csrf {
		return true
	}
	want := s.sm.GetString(r.Context(), "csrf")
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = f["csrf_token"]
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, user string) {
	list, err := s.store.List(r.Context(), user)
	if err != nil {
		s.log.Error("sessionapp: list", "err", err)
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, user string) {
	f, err := formOrJSON(w, r, "text")
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if !s.checkCSRF(r, f) {
		fail(w, http.StatusForbidden, "missing or wrong CSRF token")
		return
	}
	text := f["text"]
	if strings.TrimSpace(text) == "" || utf8.RuneCountInString(text) > notes.MaxTextLength {
		fail(w, http.StatusBadRequest, "\"text\" must hold 1 to 1000 characters")
		return
	}
	n, err := s.store.Add(r.Context(), user, text, time.Now())
	if err != nil {
		s.log.Error("sessionapp: add", "err", err)
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Location", "/notes/"+strconv.FormatInt(n.ID, 10))
	writeJSON(w, http.StatusCreated, n)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, user string) {
	if !s.checkCSRF(r, nil) {
		fail(w, http.StatusForbidden, "missing or wrong CSRF token")
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		fail(w, http.StatusNotFound, "no such note")
		return
	}
	switch err := s.store.Delete(r.Context(), id, user, false); {
	case errors.Is(err, notes.ErrNotFound):
		fail(w, http.StatusNotFound, "no such note")
	case err != nil:
		s.log.Error("sessionapp: delete", "err", err)
		fail(w, http.StatusInternalServerError, "internal error")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

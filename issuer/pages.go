package issuer

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Branding customises the hosted pages without forking their templates.
// The zero value shows "waxseal" in the default blue.
type Branding struct {
	// ProductName is shown at the top of every page and in its title.
	ProductName string
	// LogoURL, if set, is an https URL (or a path on the issuer) of an
	// image shown instead of the product name. Its origin is the only one
	// the pages' Content-Security-Policy lets images come from.
	LogoURL string
	// AccentColor is the colour of the button and focus rings: a hex
	// colour, #rgb or #rrggbb, nothing else, so it cannot inject CSS. The
	// button's text is black or white, whichever contrasts more.
	AccentColor string
}

const (
	defaultProduct = "waxseal"
	defaultAccent  = "#1d4ed8"
)

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// check validates b and fills its defaults; imgSrc is the CSP source the
// logo needs.
func (b *Branding) check() (imgSrc string, err error) {
	if b.ProductName == "" {
		b.ProductName = defaultProduct
	}
	if len(b.ProductName) > 64 || strings.ContainsAny(b.ProductName, "\x00\r\n") {
		return "", errors.New("issuer: Branding.ProductName must be one line of at most 64 bytes")
	}
	if b.AccentColor == "" {
		b.AccentColor = defaultAccent
	}
	if !hexColor.MatchString(b.AccentColor) {
		return "", fmt.Errorf("issuer: Branding.AccentColor %q is not a hex colour (#rgb or #rrggbb)", b.AccentColor)
	}
	if b.LogoURL == "" {
		return "", nil
	}
	u, err := url.Parse(b.LogoURL)
	switch {
	case err != nil || strings.ContainsAny(b.LogoURL, " \"'<>;,\\"):
		return "", fmt.Errorf("issuer: Branding.LogoURL %q is not a plain URL", b.LogoURL)
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//"):
		return "", nil // on the issuer: 'self'
	case u.Scheme == "https" && u.Host != "" && u.User == nil:
		return "https://" + u.Host, nil
	}
	return "", fmt.Errorf("issuer: Branding.LogoURL %q must be an https URL or a path on the issuer", b.LogoURL)
}

// accentText picks black or white text for the accent background, whichever
// has the higher WCAG contrast ratio.
func accentText(hexc string) string {
	h := hexc[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	rgb, _ := hex.DecodeString(h)
	lin := func(c byte) float64 {
		v := float64(c) / 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(rgb[0]) + 0.7152*lin(rgb[1]) + 0.0722*lin(rgb[2])
	if (l+0.05)/0.05 > 1.05/(l+0.05) {
		return "#000000"
	}
	return "#ffffff"
}

//go:embed web/page.html web/waxseal.css
var webFiles embed.FS

var pageTemplate = template.Must(template.ParseFS(webFiles, "web/page.html"))

// pages holds what every hosted page shares.
type pages struct {
	brand   Branding
	css     []byte // the embedded style sheet with the accent colour
	cssPath string // its path, with a digest so caches never serve an old one
	csp     string // Content-Security-Policy without form-action
}

func newPages(b Branding, prefix string) (*pages, error) {
	imgSrc, err := b.check()
	if err != nil {
		return nil, err
	}
	base, err := webFiles.ReadFile("web/waxseal.css")
	if err != nil {
		return nil, err
	}
	css := append(base, fmt.Sprintf(":root { --accent: %s; --accent-text: %s; }\n", b.AccentColor, accentText(b.AccentColor))...)
	sum := sha256.Sum256(css)
	img := "'self'"
	if imgSrc != "" {
		img += " " + imgSrc
	}
	return &pages{
		brand:   b,
		css:     css,
		cssPath: prefix + AssetsPath + "?v=" + hex.EncodeToString(sum[:6]),
		csp:     "default-src 'none'; style-src 'self'; img-src " + img + "; base-uri 'none'; frame-ancestors 'none'",
	}, nil
}

// pageData is what the template shows. Mode is "login", "logout" (a
// confirmation form) or "message".
type pageData struct {
	Mode, Title, Product, Logo, CSS string
	Client, Error, Message          string
	Username, Action, CSRF          string
	Status                          int    // HTTP status; 0 means 200
	formTarget                      string // a CSP form-action source besides 'self', for the redirect after the form
}

// render writes a hosted page with the headers every one of them carries:
// a strict CSP that forbids framing (and X-Frame-Options for old
// browsers), no caching, no referrer to other sites.
func (p *pages) render(w http.ResponseWriter, d pageData) error {
	d.Product, d.Logo, d.CSS = p.brand.ProductName, p.brand.LogoURL, p.cssPath
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		return fmt.Errorf("issuer: rendering page: %w", err)
	}
	h := w.Header()
	formAction := "'self'"
	if d.formTarget != "" {
		formAction += " " + d.formTarget
	}
	h.Set("Content-Security-Policy", p.csp+"; form-action "+formAction)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // no-referrer would make browsers send the form's POST with Origin: null
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	status := d.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Content-Length", strconv.Itoa(len(s.pages.css)))
	_, err := w.Write(s.pages.css)
	return err
}

// cspSource is the CSP source that lets a form's redirect reach uri: its
// origin, or its scheme for a private-use scheme.
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

// pageError renders err as a page: an *oauthError with its description
// and status, anything else as a logged 500 with no detail.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) error {
	var oe *oauthError
	if !errors.As(err, &oe) {
		s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
		oe = &oauthError{Status: http.StatusInternalServerError, Code: "server_error", Description: "Something went wrong on our side. Please try again."}
	} else if oe.cause != nil {
		s.log.InfoContext(r.Context(), "request refused", "path", r.URL.Path, "code", oe.Code, "err", oe.cause)
	}
	for k, v := range oe.header {
		w.Header()[k] = v
	}
	if rerr := s.pages.render(w, pageData{Mode: "message", Title: "Cannot sign in", Error: oe.Description, Status: oe.Status}); rerr != nil {
		return rerr
	}
	return errAnswered
}

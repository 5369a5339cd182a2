package issuer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal/feed"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/ratelimit"
)

// apiSpec is the issuer's OpenAPI document, parsed.
type apiSpec struct {
	model *v3.Document
	v     validator.Validator
}

func loadAPISpec(t *testing.T) *apiSpec {
	t.Helper()
	doc, err := libopenapi.NewDocument(issuer.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if doc.GetVersion() != "3.1.0" {
		t.Fatalf("openapi is %q, want 3.1.0", doc.GetVersion())
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("building the model: %v", err)
	}
	v, errs := validator.NewValidator(doc,
		config.WithFormatAssertions(),
		config.WithURLEncodedBodyValidation(),
		config.WithStandardBodyDecoders(),
		// The stream is checked as text here and event by event below.
		config.WithBodyDecoder("text/event-stream", content.TextDecoder()),
		config.WithRejectUnsupportedBodyContent(),
	)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	return &apiSpec{model: &m.Model, v: v}
}

// TestOpenAPIDocument checks the document against the OpenAPI 3.1 schema,
// and each Schema Object in it against the JSON Schema 2020-12 meta-schema,
// which the OpenAPI schema leaves unchecked.
func TestOpenAPIDocument(t *testing.T) {
	s := loadAPISpec(t)
	if ok, errs := s.v.ValidateDocument(); !ok {
		t.Fatalf("not a valid OpenAPI 3.1 document:\n%s", describeErrors(errs))
	}

	var root yaml.Node
	if err := yaml.Unmarshal(issuer.OpenAPI, &root); err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := root.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	// Round-trip through JSON so that numbers and maps have the types the
	// schema compiler expects.
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://waxseal.invalid/openapi.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(base, doc); err != nil {
		t.Fatal(err)
	}
	ptrs := schemaPointers(doc, "")
	if len(ptrs) < 50 {
		t.Fatalf("found only %d schemas", len(ptrs))
	}
	for _, p := range ptrs {
		if _, err := c.Compile(base + "#" + p); err != nil {
			t.Errorf("schema %s: %v", p, err)
		}
		checkSchemaKeywords(t, p, jsonAt(doc, p))
	}
}

// schemaPointers returns the JSON pointer of every Schema Object that is not
// inside another one: components/schemas entries and each "schema" member
// of a parameter, header or media type.
func schemaPointers(v any, ptr string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			switch {
			case ptr == "/components/schemas":
				out = append(out, p)
			case k == "schema":
				out = append(out, p)
			default:
				out = append(out, schemaPointers(x, p)...)
			}
		}
	case []any:
		for i, x := range v {
			out = append(out, schemaPointers(x, fmt.Sprintf("%s/%d", ptr, i))...)
		}
	}
	slices.Sort(out)
	return out
}

func jsonAt(doc any, ptr string) any {
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch d := doc.(type) {
		case map[string]any:
			doc = d[tok]
		case []any:
			var i int
			fmt.Sscan(tok, &i)
			doc = d[i]
		}
	}
	return doc
}

// schemaKeywords are the keywords of JSON Schema 2020-12 and the OpenAPI
// 3.1 dialect. JSON Schema ignores any other member, so a misspelt
// "requried" would pass the meta-schema and check nothing.
var schemaKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`$id $schema $ref $anchor $dynamicRef $dynamicAnchor $vocabulary $comment $defs
		allOf anyOf oneOf not if then else dependentSchemas prefixItems items contains
		properties patternProperties additionalProperties propertyNames unevaluatedItems unevaluatedProperties
		type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength minLength pattern
		maxItems minItems uniqueItems maxContains minContains maxProperties minProperties required dependentRequired
		format contentEncoding contentMediaType contentSchema
		title description default deprecated readOnly writeOnly examples
		discriminator xml externalDocs example`) {
		m[k] = true
	}
	return m
}()

// checkSchemaKeywords reports members of the schema at ptr, and of its
// subschemas, that are not schema keywords.
func checkSchemaKeywords(t *testing.T, ptr string, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, x := range m {
		p := ptr + "/" + k
		if !schemaKeywords[k] && !strings.HasPrefix(k, "x-") {
			t.Errorf("schema %s: unknown keyword %q", ptr, k)
		}
		switch k {
		case "properties", "patternProperties", "$defs", "dependentSchemas":
			if xm, ok := x.(map[string]any); ok {
				for name, sub := range xm {
					checkSchemaKeywords(t, p+"/"+name, sub)
				}
			}
		case "allOf", "anyOf", "oneOf", "prefixItems":
			if xs, ok := x.([]any); ok {
				for i, sub := range xs {
					checkSchemaKeywords(t, fmt.Sprintf("%s/%d", p, i), sub)
				}
			}
		case "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
			"unevaluatedItems", "unevaluatedProperties", "contentSchema":
			checkSchemaKeywords(t, p, x)
		}
	}
}

func describeErrors(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  %s: %s\n", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "    %s at %s (%s)\n", f.Reason, f.FieldPath, f.KeywordLocation)
		}
	}
	return b.String()
}

// conformance drives an issuer and checks every answer against the document.
type conformance struct {
	t    *testing.T
	s    *apiSpec
	base string

	mu   sync.Mutex
	seen map[string]map[int]bool // "METHOD /template" -> statuses answered
}

// apiCall is one request to the issuer.
type apiCall struct {
	method, path string
	header       http.Header
	body         string // sent as is; Content-Type comes from header
	// invalid marks a request made to break the rules on purpose: it is
	// not checked against the document, only the answer is.
	invalid bool
	want    int
}

// apiAnswer is a checked response.
type apiAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a apiAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

func apiHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

const (
	formMediaType = "application/x-www-form-urlencoded"
	jsonMediaType = "application/json"
)

func apiForm(path string, form url.Values, want int, kv ...string) apiCall {
	return apiCall{method: "POST", path: path, header: apiHeader(append([]string{"Content-Type", formMediaType}, kv...)...), body: form.Encode(), want: want}
}

func apiJSON(method, path, bearer, body string, want int) apiCall {
	h := http.Header{}
	if body != "" {
		h.Set("Content-Type", jsonMediaType)
	}
	if bearer != "" {
		h.Set("Authorization", "Bearer "+bearer)
	}
	return apiCall{method: method, path: path, header: h, body: body, want: want}
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func (c *conformance) newRequest(ctx context.Context, x apiCall) *http.Request {
	var body io.Reader = http.NoBody
	if x.body != "" {
		body = strings.NewReader(x.body)
	}
	req, err := http.NewRequestWithContext(ctx, x.method, c.base+x.path, body)
	if err != nil {
		panic(err) // a mistake in the test's own table
	}
	for k, v := range x.header {
		req.Header[k] = slices.Clone(v)
	}
	return req
}

// do sends x, checks the request (unless x.invalid) and the answer against
// the document, and checks the status.
func (c *conformance) do(x apiCall) apiAnswer {
	c.t.Helper()
	if !x.invalid {
		if ok, errs := c.s.v.ValidateHttpRequest(c.newRequest(context.Background(), x)); !ok {
			c.t.Errorf("%s %s: the request does not match the document:\n%s", x.method, x.path, describeErrors(errs))
		}
	}
	req := c.newRequest(context.Background(), x)
	resp, err := noRedirects.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", x.method, x.path, err) // do runs on other goroutines too: no Fatal
		return apiAnswer{}
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Errorf("%s %s: %v", x.method, x.path, err)
		return apiAnswer{}
	}
	c.check(req, resp, raw)
	a := apiAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &a.body)
	if x.want != 0 && a.status != x.want {
		c.t.Errorf("%s %s: %d %s, want %d", x.method, x.path, a.status, raw, x.want)
	}
	return a
}

// check validates one response, whose body is raw, and records it.
func (c *conformance) check(req *http.Request, resp *http.Response, raw []byte) {
	c.t.Helper()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if ok, errs := c.s.v.ValidateHttpResponse(req, resp); !ok {
		c.t.Errorf("%s %s: %d %s: the answer does not match the document:\n%s",
			req.Method, req.URL.Path, resp.StatusCode, logExcerpt(raw), describeErrors(errs))
	}
	op := c.operation(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][resp.StatusCode] = true
}

func logExcerpt(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// operation names the documented operation a request is for.
func (c *conformance) operation(req *http.Request) string {
	segs := strings.Split(req.URL.Path, "/")
	for tmpl := range c.s.model.Paths.PathItems.KeysFromOldest() {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		match := true
		for i := range ts {
			if ts[i] != segs[i] && !(strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}")) {
				match = false
				break
			}
		}
		if match {
			return req.Method + " " + tmpl
		}
	}
	return req.Method + " " + req.URL.Path + " (undocumented)"
}

// documented lists every operation of the document.
func (c *conformance) documented() []string {
	var ops []string
	for tmpl, item := range c.s.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().KeysFromOldest() {
			ops = append(ops, strings.ToUpper(method)+" "+tmpl)
		}
	}
	return ops
}

// TestOpenAPIConformance drives a real issuer on SQLite through every
// operation of the document, with answers of every kind it can give, and
// checks each answer's status, content type, body and headers against the
// document.
func TestOpenAPIConformance(t *testing.T) {
	s := loadAPISpec(t)
	e := newEnv(t, sqliteEngine().open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) {
		c.Signup = true
		c.Scopes = []issuer.ScopeRule{{Scope: "notes:read"}, {Scope: "notes:write"}}
	})
	c := &conformance{t: t, s: s, base: e.http.URL, seen: map[string]map[int]bool{}}

	root := e.addUser("root", testPassword, issuer.AdminRole)
	alice := e.addUser("alice", testPassword, "editor")
	appSecret := e.addClient("app", []string{issuer.GrantPassword, issuer.GrantRefreshToken}, nil, nil)
	svcSecret := e.addClient("svc", []string{issuer.GrantClientCredentials}, []string{"invoices:read", "invoices:write"}, []string{"service"})
	notesSecret := e.addClient("notes", []string{issuer.GrantClientCredentials}, nil, nil)
	const newPassword = "quiet lantern velvet harbor 7"

	// Discovery.
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", issuer.JWKSPath, issuer.OpenAPIPath} {
		c.do(apiCall{method: "GET", path: p, want: 200})
	}

	// The token endpoint: every grant, both body types, both ways for a
	// client to authenticate, and its errors.
	login := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}, "scope": {"notes:read notes:write"}}
	tok := c.do(apiForm(issuer.TokenPath, login, 200))
	aliceAT, aliceRT := tok.str("access_token"), tok.str("refresh_token")
	appLogin := c.do(apiCall{method: "POST", path: issuer.TokenPath, header: apiHeader("Content-Type", jsonMediaType), want: 200,
		body: `{"grant_type":"password","username":"alice","password":"` + testPassword + `","client_id":"app","client_secret":"` + appSecret + `"}`})
	c.do(apiForm(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {appLogin.str("refresh_token")}}, 200,
		"Authorization", basicAuth("app", appSecret)))
	refreshed := c.do(apiForm(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {aliceRT}, "scope": {"notes:read"}}, 200))
	aliceAT, aliceRT = refreshed.str("access_token"), refreshed.str("refresh_token")
	svcTok := c.do(apiForm(issuer.TokenPath, url.Values{"grant_type": {"client_credentials"}, "scope": {"invoices:read"}}, 200,
		"Authorization", basicAuth("svc", svcSecret)))
	c.do(apiCall{method: "POST", path: issuer.TokenPath, header: apiHeader("Content-Type", jsonMediaType), want: 200,
		body: `{"grant_type":"client_credentials","client_id":"svc","client_secret":"` + svcSecret + `"}`})
	for _, x := range []apiCall{
		{body: "grant_type=implicit", want: 400},
		{body: "grant_type=password&username=alice&password=wrong", want: 400},
		{body: "grant_type=password&username=alice&password=x&scope=a%20%20b", want: 400},
		{body: "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 43), want: 400},
		{body: "grant_type=refresh_token", want: 400},
		{body: "grant_type=client_credentials&client_id=svc&client_secret=wrong", want: 401},
		{body: "grant_type=client_credentials", want: 401},
		{body: "grant_type=password&username=alice&password=x&client_id=app", want: 401},
		{body: "grant_type=password&username=alice&password=x&client_id=svc&client_secret=" + svcSecret, want: 400},
	} {
		x.method, x.path, x.header, x.invalid = "POST", issuer.TokenPath, apiHeader("Content-Type", formMediaType), true
		c.do(x)
	}
	c.do(apiCall{method: "POST", path: issuer.TokenPath, header: apiHeader("Content-Type", "text/plain"), body: "grant_type=password", invalid: true, want: 400})

	// Introspection.
	c.do(apiForm(issuer.IntrospectPath, url.Values{"token": {aliceAT}}, 200, "Authorization", basicAuth("notes", notesSecret)))
	c.do(apiCall{method: "POST", path: issuer.IntrospectPath, header: apiHeader("Content-Type", jsonMediaType), want: 200,
		body: `{"token":"` + aliceRT + `","client_id":"notes","client_secret":"` + notesSecret + `"}`})
	c.do(apiCall{method: "POST", path: issuer.IntrospectPath, header: apiHeader("Content-Type", formMediaType), body: "token=" + aliceAT, invalid: true, want: 401})
	c.do(apiCall{method: "POST", path: issuer.IntrospectPath, header: apiHeader("Content-Type", formMediaType, "Authorization", basicAuth("notes", notesSecret)), invalid: true, want: 400})

	// The bearer endpoints.
	info := c.do(apiJSON("GET", issuer.UserinfoPath, aliceAT, "", 200))
	c.do(apiJSON("GET", issuer.UserinfoPath, svcTok.str("access_token"), "", 200))
	c.do(apiCall{method: "GET", path: issuer.UserinfoPath, invalid: true, want: 401})
	c.do(apiCall{method: "GET", path: issuer.UserinfoPath, header: apiHeader("Authorization", "Bearer not.a.token"), invalid: true, want: 401})
	c.do(apiCall{method: "GET", path: issuer.UserinfoPath, header: apiHeader("Authorization", "Bearer two words"), invalid: true, want: 400})
	c.do(apiJSON("GET", issuer.SessionsPath, aliceAT, "", 200))
	c.do(apiCall{method: "GET", path: issuer.SessionsPath, invalid: true, want: 401})
	second, _ := e.loginAs("alice", testPassword, "phone")
	secondSID := c.do(apiJSON("GET", issuer.UserinfoPath, second, "", 200)).str("sid")
	c.do(apiJSON("DELETE", issuer.SessionsPath+"/"+secondSID, aliceAT, "", 204))
	c.do(apiJSON("DELETE", issuer.SessionsPath+"/nope", aliceAT, "", 404))
	c.do(apiJSON("POST", issuer.PasswordPath, aliceAT, `{"current_password":"wrong wrong wrong wrong","new_password":"`+newPassword+`"}`, 403))
	c.do(apiJSON("POST", issuer.PasswordPath, aliceAT, `{"current_password":"`+testPassword+`","new_password":"short"}`, 400))
	c.do(apiJSON("POST", issuer.PasswordPath, aliceAT, `{"current_password":"`+testPassword+`","new_password":"`+newPassword+`"}`, 204))
	c.do(apiCall{method: "POST", path: issuer.PasswordPath, header: apiHeader("Content-Type", jsonMediaType), body: `{}`, invalid: true, want: 401})

	// Signup.
	c.do(apiJSON("POST", issuer.SignupPath, "", `{"username":"Carol","password":"`+testPassword+`"}`, 201))
	c.do(apiJSON("POST", issuer.SignupPath, "", `{"username":"carol","password":"`+testPassword+`"}`, 409))
	c.do(apiJSON("POST", issuer.SignupPath, "", `{"username":"dave","password":"password1234567"}`, 400))

	// Revocation; it also fills the feed.
	doomed, doomedRT := e.mustLogin("alice", newPassword)
	c.do(apiForm(issuer.RevokePath, url.Values{"token": {doomed}, "token_type_hint": {"access_token"}}, 200))
	c.do(apiCall{method: "POST", path: issuer.RevokePath, header: apiHeader("Content-Type", jsonMediaType), body: `{"token":"` + doomedRT + `"}`, want: 200})
	c.do(apiCall{method: "POST", path: issuer.RevokePath, header: apiHeader("Content-Type", formMediaType), body: "token_type_hint=access_token", invalid: true, want: 400})

	// Logout.
	out, _ := e.mustLogin("alice", newPassword)
	c.do(apiJSON("POST", issuer.LogoutPath, out, "", 204))
	c.do(apiJSON("POST", issuer.LogoutPath, svcTok.str("access_token"), "", 204))
	c.do(apiCall{method: "POST", path: issuer.LogoutPath, header: apiHeader("Authorization", "Bearer "+out), invalid: true, want: 401})
	e.clock.Advance(time.Second)
	all, _ := e.mustLogin("alice", newPassword)
	c.do(apiJSON("POST", issuer.LogoutAllPath, all, "", 204))
	c.do(apiCall{method: "POST", path: issuer.LogoutAllPath, invalid: true, want: 401})
	e.clock.Advance(time.Second)

	// The feed, as pages and as a stream.
	page := c.do(apiCall{method: "GET", path: issuer.RevocationsPath + "?after=0&limit=2", want: 200})
	if page.body["more"] != true {
		t.Errorf("feed page: %s", page.raw)
	}
	c.do(apiCall{method: "GET", path: issuer.RevocationsPath + "?limit=0", invalid: true, want: 400})
	c.stream(issuer.RevocationsPath, 2)

	// Administration.
	admin, _ := e.mustLogin("root", testPassword)
	a := func(method, path, body string, want int) apiAnswer {
		t.Helper()
		return c.do(apiJSON(method, issuer.AdminPath+path, admin, body, want))
	}
	users := a("GET", "/users?limit=1", "", 200)
	a("GET", "/users?after="+url.QueryEscape(users.str("next"))+"&q=a", "", 200)
	c.do(apiCall{method: "GET", path: issuer.AdminPath + "/users?limit=0", header: apiHeader("Authorization", "Bearer "+admin), invalid: true, want: 400})
	zed := a("POST", "/users", `{"name":"zed","password":"`+testPassword+`","roles":["editor"]}`, 201)
	a("POST", "/users", `{"name":"ZED","password":"`+testPassword+`"}`, 409)
	a("POST", "/users", `{"name":"yan","password":"weak"}`, 400)
	a("GET", "/users/"+alice.ID, "", 200)
	a("GET", "/users/nope", "", 404)
	a("POST", "/users/"+zed.str("id")+"/disable", "", 204)
	a("POST", "/users/"+zed.str("id")+"/enable", "", 204)
	a("POST", "/users/nope/enable", "", 404)
	a("PUT", "/users/"+zed.str("id")+"/roles", `{"roles":["editor","auditor"]}`, 200)
	c.do(apiCall{method: "PUT", path: issuer.AdminPath + "/users/" + zed.str("id") + "/roles", header: apiHeader("Authorization", "Bearer "+admin, "Content-Type", jsonMediaType),
		body: `{"roles":["x"],"extra":1}`, invalid: true, want: 400})
	a("POST", "/users/"+zed.str("id")+"/password", `{"password":"`+newPassword+`"}`, 204)
	a("POST", "/users/"+alice.ID+"/logout", "", 204)

	a("POST", "/clients", `{"client_id":"billing","name":"Billing","grant_types":["client_credentials"],"scopes":["invoices:read"],"roles":["service"]}`, 201)
	a("POST", "/clients", `{}`, 201)
	a("POST", "/clients", `{"client_id":"billing"}`, 409)
	c.do(apiCall{method: "POST", path: issuer.AdminPath + "/clients", header: apiHeader("Authorization", "Bearer "+admin, "Content-Type", jsonMediaType),
		body: `{"grant_types":["implicit"]}`, invalid: true, want: 400})
	a("POST", "/clients/billing/secret?overlap=1h", "", 200)
	a("POST", "/clients/nope/secret", "", 404)
	c.do(apiCall{method: "POST", path: issuer.AdminPath + "/clients/billing/secret?overlap=soon", header: apiHeader("Authorization", "Bearer "+admin), invalid: true, want: 400})
	clients := a("GET", "/clients?limit=2", "", 200)
	a("GET", "/clients?after="+url.QueryEscape(clients.str("next")), "", 200)
	a("DELETE", "/clients/billing", "", 204)
	a("DELETE", "/clients/billing", "", 404)

	a("POST", "/revocations", `{"kind":"token","id":"some-jti","expires":"2030-01-01T00:00:00Z"}`, 200)
	a("POST", "/revocations", `{"kind":"session","id":"`+info.str("sid")+`"}`, 200)
	a("POST", "/revocations", `{"kind":"session","id":"`+info.str("sid")+`"}`, 200) // already ended: no cursor
	a("POST", "/revocations", `{"kind":"user","id":"`+zed.str("id")+`"}`, 200)
	a("POST", "/revocations", `{"kind":"session","id":"nope"}`, 404)
	c.do(apiCall{method: "POST", path: issuer.AdminPath + "/revocations", header: apiHeader("Authorization", "Bearer "+admin, "Content-Type", jsonMediaType),
		body: `{"kind":"planet","id":"x"}`, invalid: true, want: 400})

	audit := a("GET", "/audit?limit=2&type=login", "", 200)
	a("GET", fmt.Sprintf("/audit?before=%v&user=%s", audit.body["next"], root.ID), "", 200)
	c.do(apiCall{method: "GET", path: issuer.AdminPath + "/audit?before=-1", header: apiHeader("Authorization", "Bearer "+admin), invalid: true, want: 400})

	a("GET", "/keys", "", 200)
	rotated := a("POST", "/keys/rotate", "", 200)
	a("POST", "/keys/"+rotated.str("kid")+"/compromise", "", 200)
	a("POST", "/keys/nope/compromise", "", 404)
	c.do(apiJSON("GET", issuer.JWKSPath, "", "", 200))

	// Every bearer operation refuses a request without a token and one with
	// a malformed Authorization header; every admin operation refuses a
	// token without the role.
	e.clock.Advance(time.Second)
	editor, _ := e.mustLogin("zed", newPassword)
	for _, op := range c.documented() {
		method, tmpl, _ := strings.Cut(op, " ")
		roles, ok := c.bearerRoles(method, tmpl)
		if !ok {
			continue
		}
		path := strings.NewReplacer("{id}", "x", "{kid}", "x").Replace(tmpl)
		c.do(apiCall{method: method, path: path, invalid: true, want: 401})
		c.do(apiCall{method: method, path: path, header: apiHeader("Authorization", "Bearer two words"), invalid: true, want: 400})
		if slices.Contains(roles, issuer.AdminRole) {
			c.do(apiCall{method: method, path: path, header: apiHeader("Authorization", "Bearer "+editor), invalid: true, want: 403})
		}
	}
	for _, x := range []struct{ method, path, body string }{
		{"POST", "/users/nope/disable", ""},
		{"POST", "/users/nope/logout", ""},
		{"PUT", "/users/nope/roles", `{"roles":[]}`},
		{"POST", "/users/nope/password", `{"password":"` + newPassword + `"}`},
	} {
		a(x.method, x.path, x.body, 404)
	}

	c.signIn(t, e)

	// Probes and metrics.
	for _, p := range []string{issuer.LivePath, issuer.ReadyPath} {
		c.do(apiCall{method: "GET", path: p, want: 200})
	}

	// A hasher with no room answers 503, and a brute-force limit 429, with
	// Retry-After.
	c.busy(t)
	c.limited(t)

	// Readiness fails without the database.
	e.store.Close()
	c.do(apiCall{method: "GET", path: issuer.ReadyPath, want: 503})

	for _, op := range c.documented() {
		if len(c.seen[op]) == 0 {
			t.Errorf("%s is documented but was never called", op)
		}
	}
	// Answers the test cannot provoke, such as a failing store, are listed
	// with -v.
	for _, op := range c.documented() {
		method, tmpl, _ := strings.Cut(op, " ")
		o := c.s.model.Paths.PathItems.GetOrZero(tmpl).GetOperations().GetOrZero(strings.ToLower(method))
		for code := range o.Responses.Codes.KeysFromOldest() {
			var n int
			fmt.Sscan(code, &n)
			if !c.seen[op][n] {
				t.Logf("not exercised: %s %s", op, code)
			}
		}
	}
	for op := range c.seen {
		if strings.HasSuffix(op, "(undocumented)") {
			t.Errorf("%s was called", op)
		}
	}
}

// stream opens the feed as Server-Sent Events, reads n revocation events,
// and checks the answer against the document and each event's data against
// RevocationEntry.
func (c *conformance) stream(path string, n int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := c.newRequest(ctx, apiCall{method: "GET", path: path, header: apiHeader("Accept", "text/event-stream", "Last-Event-ID", "1")})
	if ok, errs := c.s.v.ValidateHttpRequest(req); !ok {
		c.t.Errorf("stream request: %s", describeErrors(errs))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	r := bufio.NewReader(io.TeeReader(resp.Body, &got))
	er := feed.NewEventReader(r)
	schema := c.s.model.Components.Schemas.GetOrZero("RevocationEntry").Schema()
	sv := schema_validation.NewSchemaValidator(config.WithFormatAssertions())
	for read := 0; read < n; {
		ev, err := er.Next()
		if err != nil {
			c.t.Fatalf("stream after %d events: %v", read, err)
		}
		if ev.Type != feed.EventType {
			continue
		}
		read++
		if ok, errs := sv.ValidateSchemaString(schema, ev.Data); !ok {
			c.t.Errorf("stream event %s: %s does not match RevocationEntry:\n%s", ev.ID, ev.Data, describeErrors(errs))
		}
		if e, err := feed.ParseEntry([]byte(ev.Data)); err != nil || fmt.Sprint(e.Cursor) != ev.ID {
			c.t.Errorf("stream event %s: %s (%v)", ev.ID, ev.Data, err)
		}
	}
	c.check(req, resp, got.Bytes())
}

// bearerRoles reports whether an operation needs a bearer token, and the
// roles it needs.
func (c *conformance) bearerRoles(method, tmpl string) ([]string, bool) {
	o := c.s.model.Paths.PathItems.GetOrZero(tmpl).GetOperations().GetOrZero(strings.ToLower(method))
	for _, req := range o.Security {
		if roles, ok := req.Requirements.Get("bearerAuth"); ok {
			return roles, true
		}
	}
	return nil, false
}

// busy starts an issuer with one password hash at a time, no queue and
// signup disabled, and sends bursts of requests that hash until one is
// refused with 503.
func (c *conformance) busy(t *testing.T) {
	t.Helper()
	e := newEnv(t, sqliteEngine().open(t), nil, func(_ *issuer.Config, h *password.HasherConfig) {
		h.MaxConcurrent, h.MaxWait = 1, -1
		h.Params = password.Params{Memory: 8 << 10, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	})
	e.addUser("root", testPassword, issuer.AdminRole)
	b := &conformance{t: t, s: c.s, base: e.http.URL, seen: c.seen}
	b.do(apiJSON("POST", issuer.SignupPath, "", `{"username":"carol","password":"`+testPassword+`"}`, 404))
	admin, _ := e.mustLogin("root", testPassword)
	for _, x := range []apiCall{
		apiForm(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"root"}, "password": {testPassword}}, 0),
		apiJSON("POST", issuer.PasswordPath, admin, `{"current_password":"wrong wrong wrong wrong","new_password":"x"}`, 0),
		apiJSON("POST", issuer.AdminPath+"/users", admin, `{"name":"zed","password":"`+testPassword+`"}`, 0),
	} {
		b.burst(x, http.StatusServiceUnavailable)
	}
}

// limited starts an issuer whose brute-force limits allow one attempt an
// hour, and exceeds each of them.
func (c *conformance) limited(t *testing.T) {
	t.Helper()
	once := ratelimit.Policy{Burst: 1, Refill: time.Hour}
	e := newEnv(t, sqliteEngine().open(t), nil, func(cfg *issuer.Config, _ *password.HasherConfig) {
		cfg.Signup = true
		cfg.Limits = issuer.Limits{Account: ratelimit.NewMemory(once), IP: ratelimit.NewMemory(once), Client: ratelimit.NewMemory(once)}
	})
	secret := e.addClient("notes", []string{issuer.GrantClientCredentials}, nil, nil)
	l := &conformance{t: t, s: c.s, base: e.http.URL, seen: c.seen}
	login := apiForm(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}, 400)
	l.do(login)
	login.want = 429
	l.do(login)
	l.do(apiForm(issuer.IntrospectPath, url.Values{"token": {"x"}}, 429, "Authorization", basicAuth("notes", secret)))
	signup := apiJSON("POST", issuer.SignupPath, "", `{"username":"carol","password":"`+testPassword+`"}`, 201)
	l.do(signup)
	signup.want = 429
	l.do(signup)
}

// burst sends x eight at a time, up to ten times, until one answer is want.
func (c *conformance) burst(x apiCall, want int) {
	c.t.Helper()
	for range 10 {
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Go(func() { statuses[i] = c.do(x).status })
		}
		wg.Wait()
		if slices.Contains(statuses, want) {
			return
		}
	}
	c.t.Errorf("%s %s: never answered %d", x.method, x.path, want)
}

// noRedirects answers a redirect itself, so its status and Location are
// checked rather than followed.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signIn walks the authorization code flow's endpoints: the authorization
// endpoint, the login page and form, the code grant, OpenID Connect
// userinfo, the style sheet and logout.
func (c *conformance) signIn(t *testing.T, e *env) {
	_, _, err := e.acct.CreateClient(context.Background(), issuer.ClientSpec{ID: "spa", Public: true, IDTokenAlg: "EdDSA",
		RedirectURIs: []string{"https://spa.test/cb"}, PostLogoutRedirectURIs: []string{"https://spa.test/bye"}})
	if err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {"https://spa.test/cb"},
		"scope": {"openid profile"}, "state": {"st"}, "nonce": {"nc"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	query := q.Encode()
	c.do(apiCall{method: "GET", path: issuer.AuthorizePath + "?" + query, want: 200})
	c.do(apiCall{method: "GET", path: issuer.AuthorizePath + "?client_id=nope", want: 400})
	c.do(apiCall{method: "GET", path: issuer.AuthorizePath + "?client_id=spa&redirect_uri=https://spa.test/cb&response_type=token", want: 302})
	c.do(apiCall{method: "POST", path: issuer.AuthorizePath, header: apiHeader("Content-Type", "application/x-www-form-urlencoded"), body: query, want: 200})
	c.do(apiCall{method: "GET", path: issuer.LoginPath + "?client_id=nope", want: 400})
	c.do(apiCall{method: "GET", path: issuer.LoginPath + "?client_id=spa&redirect_uri=https://spa.test/cb", want: 302})
	page := c.do(apiCall{method: "GET", path: issuer.LoginPath + "?" + query, want: 200})
	var cookie string
	for _, ck := range (&http.Response{Header: page.header}).Cookies() {
		cookie = ck.Name + "=" + ck.Value
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page.raw)
	if m == nil || cookie == "" {
		t.Fatalf("login page without a CSRF token or cookie: %s", page.raw)
	}
	form := func(user, pw string) string {
		return url.Values{"csrf_token": {m[1]}, "username": {user}, "password": {pw}}.Encode()
	}
	formHeader := apiHeader("Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie)
	c.do(apiCall{method: "POST", path: issuer.LoginPath + "?" + query, header: apiHeader("Content-Type", "application/x-www-form-urlencoded"), body: form("zed", "x"), want: 403})
	c.do(apiCall{method: "POST", path: issuer.LoginPath + "?" + query, header: formHeader, body: form("", ""), want: 400})
	c.do(apiCall{method: "POST", path: issuer.LoginPath + "?" + query, header: formHeader, body: form("zed", "wrong password entirely"), want: 401})
	e.clock.Advance(time.Second)
	done := c.do(apiCall{method: "POST", path: issuer.LoginPath + "?" + query, header: formHeader, body: form("zed", "quiet lantern velvet harbor 7"), want: 303})
	loc, err := url.Parse(done.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("login answered Location %q", done.header.Get("Location"))
	}
	tok := c.do(apiCall{method: "POST", path: issuer.TokenPath, header: apiHeader("Content-Type", "application/x-www-form-urlencoded"),
		body: url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {loc.Query().Get("code")},
			"redirect_uri": {"https://spa.test/cb"}, "code_verifier": {verifier}}.Encode(), want: 200})
	c.do(apiCall{method: "GET", path: issuer.OIDCUserinfo, header: apiHeader("Authorization", "Bearer "+tok.str("access_token")), want: 200})
	c.do(apiCall{method: "POST", path: issuer.OIDCUserinfo, header: apiHeader("Authorization", "Bearer "+tok.str("access_token")), want: 200})
	c.do(apiCall{method: "GET", path: issuer.AssetsPath, want: 200})
	c.do(apiCall{method: "GET", path: issuer.EndSessionPath, want: 200})
	c.do(apiCall{method: "GET", path: issuer.EndSessionPath + "?id_token_hint=" + tok.str("access_token"), want: 400})
	c.do(apiCall{method: "POST", path: issuer.EndSessionPath, header: apiHeader("Content-Type", "application/x-www-form-urlencoded"), body: "state=x", want: 200})
	c.do(apiCall{method: "GET", path: issuer.EndSessionPath + "?" + url.Values{"id_token_hint": {tok.str("id_token")},
		"post_logout_redirect_uri": {"https://spa.test/bye"}, "state": {"s"}}.Encode(), want: 303})
}

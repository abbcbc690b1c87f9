/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package vpsie

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "static-token-s3cr3t"

// recorded is one request seen by the fake API.
type recorded struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	At       time.Time
}

// JSON decodes the recorded body into a generic map.
func (r recorded) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("request body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// fakeAPI is an httptest server with per-route handlers and a request log.
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	reqs   []recorded
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	// Tests run one after another; forget the shared limiters so that a later server that
	// happens to reuse this port does not inherit a spent budget.
	t.Cleanup(func() {
		limiters.Lock()
		limiters.m = map[string]*accountLimiter{}
		limiters.Unlock()
	})
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, At: time.Now()})
	h := f.routes[key]
	f.mu.Unlock()
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if h == nil {
		writeBody(w, http.StatusNotFound, `{"error":true,"message":"Not found"}`)
		return
	}
	h(w, r)
}

// handle routes "METHOD /path" to h.
func (f *fakeAPI) handle(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = h
}

// reply routes "METHOD /path" to a fixed answer.
func (f *fakeAPI) reply(route string, status int, body string) {
	f.handle(route, func(w http.ResponseWriter, _ *http.Request) { writeBody(w, status, body) })
}

// requests returns the recorded requests for "METHOD /path" ("" for all).
func (f *fakeAPI) requests(route string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.reqs {
		if route == "" || r.Method+" "+r.Path == route {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeAPI) count(route string) int { return len(f.requests(route)) }

func writeBody(w http.ResponseWriter, status int, body string) {
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		w.Header().Set("Content-Type", "text/html")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// sequence answers successive calls with successive handlers, repeating the last one.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(i, len(hs)-1)]
		i++
		mu.Unlock()
		h(w, r)
	}
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeBody(w, status, body) }
}

// dropConnection closes the TCP connection without an answer: a network error.
func dropConnection(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleepRecorder is an injectable Sleep that returns at once and records the waits.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleepRecorder) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newTestClient builds a client against f with a static token, a generous limiter (tests of
// the limiter set their own) and an instant sleeper.
func newTestClient(t *testing.T, f *fakeAPI, mods ...func(*Config)) (*Client, *sleepRecorder) {
	t.Helper()
	sleeper := &sleepRecorder{}
	cfg := Config{
		BaseURL:           f.srv.URL,
		Token:             testToken,
		RequestsPerMinute: 600000,
		Burst:             1000,
		Sleep:             sleeper.Sleep,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, sleeper
}

// withCredentials switches a test client to client id/secret authentication.
func withCredentials(id, secret string) func(*Config) {
	return func(c *Config) { c.Token, c.ClientID, c.ClientSecret = "", id, secret }
}

// loginServer issues tokens "access-1", "access-2", ... and accepts only live ones on
// protected routes.
type loginServer struct {
	mu       sync.Mutex
	issued   int
	valid    map[string]bool
	lifetime time.Duration
	clock    func() time.Time
	shape    string // "login_sdk.json" or "login_autoscaler.json"
	body     string
}

func newLoginServer(t *testing.T, shape string, clock func() time.Time) *loginServer {
	return &loginServer{valid: map[string]bool{}, lifetime: time.Hour, clock: clock, shape: shape,
		body: testdata(t, shape)}
}

// issue answers a successful login.
func (l *loginServer) issue(w http.ResponseWriter, _ *http.Request) {
	l.mu.Lock()
	l.issued++
	tok := "access-" + strconv.Itoa(l.issued)
	l.valid[tok] = true
	expires := l.clock().Add(l.lifetime).Format(time.RFC3339)
	l.mu.Unlock()
	body := strings.NewReplacer("{{ACCESS}}", tok, "{{EXPIRES}}", expires).Replace(l.body)
	writeBody(w, http.StatusOK, body)
}

func (l *loginServer) revoke(tok string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.valid, tok)
}

func (l *loginServer) logins() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.issued
}

// protect wraps h: requests without a live token get VPSie's 401.
func (l *loginServer) protect(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Vpsie-Auth")
		l.mu.Lock()
		ok := l.valid[tok] && r.Header.Get("Authorization") == "Bearer "+tok
		l.mu.Unlock()
		if !ok {
			writeBody(w, http.StatusUnauthorized, `{"error":true,"message":"Please authenticate"}`)
			return
		}
		h(w, r)
	}
}

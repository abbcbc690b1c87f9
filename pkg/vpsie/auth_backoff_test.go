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
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// switchable is a handler whose behaviour a test can change while the server runs.
type switchable struct {
	mu sync.Mutex
	h  http.HandlerFunc
	n  atomic.Int32
}

func (s *switchable) set(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.n.Add(1)
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h(w, r)
}

func (s *switchable) count() int { return int(s.n.Load()) }

// A login failing on the way (HTML 502) is not sent again on every call: calls fail fast with
// a Transient error carrying the remaining backoff, the backoff doubles up to a minute, all
// callers share it, and a successful login resets it.
func TestFailedLoginBacksOffExponentially(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	login := &switchable{h: answer(502, testdata(t, "gateway_502.html"))}
	f.handle("POST "+loginPath, login.ServeHTTP)
	f.handle("GET /apps/v2/tags", ls.protect(answer(200, `{"error":false,"data":[]}`)))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	ctx := context.Background()

	_, err := c.ListTags(ctx)
	g.Expect(IsTransient(err)).To(BeTrue(), "%v", err)
	g.Expect(login.count()).To(Equal(1))

	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		// During the backoff: fail fast, no login sent, by any caller.
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for j := range errs {
			wg.Go(func() { _, errs[j] = c.ListTags(ctx) })
		}
		wg.Wait()
		for _, err := range errs {
			g.Expect(IsTransient(err)).To(BeTrue(), "%v", err)
			g.Expect(RetryAfter(err)).To(Equal(want), "failure %d", i+1)
			g.Expect(NotSent(err)).To(BeTrue())
		}
		g.Expect(login.count()).To(Equal(i+1), "no login during the backoff")
		clock.Advance(want - time.Millisecond)
		_, err = c.ListTags(ctx)
		g.Expect(RetryAfter(err)).To(Equal(time.Millisecond))
		g.Expect(login.count()).To(Equal(i + 1))
		clock.Advance(time.Millisecond)
		_, err = c.ListTags(ctx) // the backoff is over: one more login, which fails again
		g.Expect(IsTransient(err)).To(BeTrue())
		g.Expect(login.count()).To(Equal(i + 2))
	}
	g.Expect(f.count("GET /apps/v2/tags")).To(Equal(0))

	// Success resets the backoff.
	login.set(ls.issue)
	clock.Advance(time.Minute)
	_, err = c.ListTags(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	logins := login.count()
	login.set(answer(503, "<html>503</html>"))
	clock.Advance(2 * time.Hour) // the token expired
	_, err = c.ListTags(ctx)
	g.Expect(IsTransient(err)).To(BeTrue())
	_, err = c.ListTags(ctx)
	g.Expect(RetryAfter(err)).To(Equal(time.Second), "the backoff starts again from the beginning")
	g.Expect(login.count()).To(Equal(logins + 1))
}

// Refused credentials stay Unauthorized (terminal) and are not sent again on every call either:
// they back off longer.
func TestRejectedLoginBacksOffLonger(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	f.reply("POST "+loginPath, 401, `{"error":true,"message":"Invalid credentials"}`)
	c, _ := newTestClient(t, f, withCredentials(testClientID, "wrong"), func(c *Config) { c.Now = clock.Now })
	ctx := context.Background()

	_, err := c.ListVPCs(ctx)
	g.Expect(IsUnauthorized(err)).To(BeTrue())
	for _, want := range []time.Duration{loginRejectedBackoffBase, 2 * loginRejectedBackoffBase} {
		for range 3 {
			_, err = c.ListVPCs(ctx)
			g.Expect(IsUnauthorized(err)).To(BeTrue(), "%v", err)
			g.Expect(IsTerminal(err)).To(BeTrue())
			g.Expect(RetryAfter(err)).To(Equal(want))
		}
		clock.Advance(want)
		_, err = c.ListVPCs(ctx)
		g.Expect(IsUnauthorized(err)).To(BeTrue())
	}
	g.Expect(f.count("POST " + loginPath)).To(Equal(3))
	g.Expect(f.count("GET /apps/v2/vpc")).To(Equal(0))
}

// During a backoff a token that is still valid keeps serving, without login attempts.
func TestBackoffKeepsUsingAValidToken(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, sequence(ls.issue, answer(503, "<html>503</html>")))
	f.handle("GET /apps/v2/tags", ls.protect(answer(200, `{"error":false,"data":[]}`)))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	ctx := context.Background()

	_, err := c.ListTags(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	clock.Advance(57 * time.Minute) // inside the refresh skew: a proactive refresh, which fails
	for range 5 {
		_, err = c.ListTags(ctx)
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(f.count("POST "+loginPath)).To(Equal(2), "one failed refresh, then the backoff")
	g.Expect(f.count("GET /apps/v2/tags")).To(Equal(6))
}

// A login answered with a Retry-After backs off at least that long; a login refused by our own
// budget (nothing sent) starts no backoff.
func TestLoginBackoffHonoursRetryAfterAndIgnoresOwnBudget(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	f.handle("POST "+loginPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "45")
		writeBody(w, 503, "<html>503 Service Temporarily Unavailable</html>")
	})
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	_, err := c.ListTags(context.Background())
	g.Expect(IsTransient(err)).To(BeTrue())
	clock.Advance(40 * time.Second)
	_, err = c.ListTags(context.Background())
	g.Expect(RetryAfter(err)).To(Equal(5*time.Second), "max(1s, Retry-After 45s), 40s of it gone")
	g.Expect(f.count("POST " + loginPath)).To(Equal(1))
	clock.Advance(5 * time.Second)
	_, _ = c.ListTags(context.Background())
	g.Expect(f.count("POST " + loginPath)).To(Equal(2))

	// Our own budget refusing the login (no status: nothing was sent) starts no backoff.
	auth := c.auth.(*credentialAuth)
	auth.mu.Lock()
	_, ok := auth.nextBackoff(&Error{Operation: "Login", Class: ClassRateLimited, RetryAfter: time.Hour})
	auth.mu.Unlock()
	g.Expect(ok).To(BeFalse())
}

// "Not found" from the login route is a misconfiguration, never the caller's object missing.
func TestLoginRouteNotFoundIsTerminal(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t) // no login route: the fake answers {"error":true,"message":"Not found"}
	f.reply("GET /api/v2/vm/abc", 200, testdata(t, "vm_get.json"))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret))
	_, err := c.GetVM(context.Background(), "abc")
	g.Expect(IsNotFound(err)).To(BeFalse(), "a VM must never look deleted because login failed: %v", err)
	g.Expect(IsTerminal(err)).To(BeTrue())
	g.Expect(f.count("GET /api/v2/vm/abc")).To(Equal(0))
}

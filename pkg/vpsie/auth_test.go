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
	"net/url"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	testClientID     = "client-id-1"
	testClientSecret = "client-s3cr3t-value"
)

func TestStaticTokenHeaders(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 200, testdata(t, "tags.json"))
	c, _ := newTestClient(t, f, func(c *Config) { c.Version = "v9.9.9" })

	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	r := f.requests("GET /apps/v2/tags")[0]
	g.Expect(r.Header.Get("Vpsie-Auth")).To(Equal(testToken))
	g.Expect(r.Header.Get("Authorization")).To(BeEmpty(), "a static token is sent without Bearer")
	g.Expect(r.Header.Get("User-Agent")).To(Equal("cluster-api-provider-vpsie/v9.9.9"))
	g.Expect(r.Header.Get("Accept")).To(Equal("application/json"))
	g.Expect(f.count("POST " + loginPath)).To(Equal(0))
}

func TestDefaultUserAgentUsesPackageVersion(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":[]}`)
	old := Version
	Version = "v1.2.3-ldflags"
	defer func() { Version = old }()
	c, _ := newTestClient(t, f)
	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.requests("")[0].Header.Get("User-Agent")).To(Equal("cluster-api-provider-vpsie/v1.2.3-ldflags"))
}

func TestLoginJSONWithSDKShape(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, ls.issue)
	f.handle("GET /apps/v2/tags", ls.protect(answer(200, testdata(t, "tags.json"))))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })

	for range 3 {
		_, err := c.ListTags(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(ls.logins()).To(Equal(1), "the token is reused until it nears expiry")
	login := f.requests("POST " + loginPath)[0]
	g.Expect(login.Header.Get("Content-Type")).To(Equal("application/json"))
	g.Expect(login.JSON(t)).To(Equal(map[string]any{"clientId": testClientID, "clientSecret": testClientSecret}))
	call := f.requests("GET /apps/v2/tags")[0]
	g.Expect(call.Header.Get("Vpsie-Auth")).To(Equal("access-1"))
	g.Expect(call.Header.Get("Authorization")).To(Equal("Bearer access-1"))
}

func TestLoginFallsBackToFormAndRemembersIt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		jsonStatus int
		jsonBody   string
	}{
		{"415 unsupported media type", http.StatusUnsupportedMediaType, `{"error":true,"message":"Unsupported Media Type"}`},
		{"400 missing fields", http.StatusBadRequest, `{"error":true,"code":400,"message":"clientId is required"}`},
		{"200 with error envelope", http.StatusOK, `{"error":true,"message":"clientId is required"}`},
		{"401 generic (body not parsed)", http.StatusUnauthorized, `{"error":true,"message":"Please authenticate"}`},
		{"200 without token", http.StatusOK, `{"error":false,"data":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeAPI(t)
			clock := newFakeClock()
			ls := newLoginServer(t, "login_autoscaler.json", clock.Now)
			f.handle("POST "+loginPath, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					writeBody(w, tc.jsonStatus, tc.jsonBody)
					return
				}
				_ = r.ParseForm()
				if r.PostForm.Get("clientId") != testClientID || r.PostForm.Get("clientSecret") != testClientSecret {
					writeBody(w, 401, `{"error":true,"message":"Invalid credentials"}`)
					return
				}
				ls.issue(w, r)
			})
			f.handle("GET /apps/v2/tags", ls.protect(answer(200, testdata(t, "tags.json"))))
			c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })

			_, err := c.ListTags(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			clock.Advance(2 * time.Hour) // token expired: log in again
			_, err = c.ListTags(context.Background())
			g.Expect(err).NotTo(HaveOccurred())

			var styles []string
			for _, r := range f.requests("POST " + loginPath) {
				styles = append(styles, r.Header.Get("Content-Type"))
			}
			g.Expect(styles).To(Equal([]string{"application/json", "application/x-www-form-urlencoded",
				"application/x-www-form-urlencoded"}), "JSON first, then form, then form only")
			form, err := url.ParseQuery(string(f.requests("POST " + loginPath)[1].Body))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(form.Get("clientId")).To(Equal(testClientID))
			g.Expect(f.requests("GET /apps/v2/tags")[1].Header.Get("Vpsie-Auth")).To(Equal("access-2"))
		})
	}
}

func TestLoginRejectedCredentialsDoNotFallBack(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST "+loginPath, 401, `{"error":true,"message":"Invalid credentials"}`)
	c, _ := newTestClient(t, f, withCredentials(testClientID, "wrong"))
	before := testutil.ToFloat64(loginsTotal.WithLabelValues("rejected"))

	_, err := c.ListVPCs(context.Background())
	g.Expect(err).To(HaveOccurred())
	g.Expect(IsUnauthorized(err)).To(BeTrue())
	g.Expect(IsTerminal(err)).To(BeTrue(), "bad credentials cannot be fixed by retrying")
	g.Expect(err.Error()).To(ContainSubstring("ListVPCs"))
	g.Expect(f.count("POST "+loginPath)).To(Equal(1), "no form fallback for rejected credentials")
	g.Expect(f.count("GET /apps/v2/vpc")).To(Equal(0))
	g.Expect(testutil.ToFloat64(loginsTotal.WithLabelValues("rejected")) - before).To(Equal(1.0))
}

func TestLoginServerErrorIsTransientAndNotFallenBack(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST "+loginPath, 502, testdata(t, "gateway_502.html"))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret))
	_, err := c.ListVPCs(context.Background())
	g.Expect(IsTransient(err)).To(BeTrue())
	g.Expect(f.count("POST " + loginPath)).To(Equal(1))
}

// A login answered HTTP 200 with VPSie's "try again later" error envelope is transient, not terminal: the
// chaos scenario saw it reported as InvalidSpec, holding machines for the terminal requeue.
func TestLoginTryAgainLaterIsTransient(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST "+loginPath, 200, `{"error":true,"code":500,"message":"Something went wrong, please try again later","stack":""}`)
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret))
	_, err := c.ListVPCs(context.Background())
	g.Expect(err).To(HaveOccurred())
	g.Expect(IsTransient(err)).To(BeTrue(), "%v", err)
	g.Expect(IsTerminal(err)).To(BeFalse())
}

func TestProactiveRefreshBeforeExpiry(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, ls.issue)
	f.handle("GET /apps/v2/tags", ls.protect(answer(200, `{"error":false,"data":[]}`)))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	ctx := context.Background()

	_, err := c.ListTags(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	clock.Advance(50 * time.Minute) // 10 minutes left: keep the token
	_, err = c.ListTags(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ls.logins()).To(Equal(1))

	clock.Advance(6 * time.Minute) // 4 minutes left: inside the 5 minute skew
	_, err = c.ListTags(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ls.logins()).To(Equal(2))
	tags := f.requests("GET /apps/v2/tags")
	g.Expect(tags[2].Header.Get("Vpsie-Auth")).To(Equal("access-2"))
	g.Expect(f.count("GET /apps/v2/tags")).To(Equal(3), "no request was refused")
}

func TestRefreshSkewIsConfigurable(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, ls.issue)
	f.handle("GET /apps/v2/tags", ls.protect(answer(200, `{"error":false,"data":[]}`)))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) {
		c.Now = clock.Now
		c.TokenRefreshSkew = 20 * time.Minute
	})
	_, _ = c.ListTags(context.Background())
	clock.Advance(41 * time.Minute)
	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ls.logins()).To(Equal(2))
}

func TestFailedProactiveRefreshKeepsValidToken(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, sequence(ls.issue, answer(503, testdata(t, "gateway_502.html"))))
	f.handle("GET /apps/v2/tags", ls.protect(answer(200, `{"error":false,"data":[]}`)))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })

	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	clock.Advance(57 * time.Minute)
	_, err = c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred(), "the old token is still valid for 3 minutes")
	g.Expect(f.count("POST " + loginPath)).To(Equal(2))

	clock.Advance(4 * time.Minute) // now really expired and login still failing
	_, err = c.ListTags(context.Background())
	g.Expect(IsTransient(err)).To(BeTrue())
}

func TestUnauthorizedTriggersOneReloginAndOneRetry(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, ls.issue)
	// The server forgets the first token (e.g. revoked): the first call gets a 401.
	f.handle("GET /api/v2/vm/abc", ls.protect(answer(200, testdata(t, "vm_get.json"))))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	_, err := c.ListTags(context.Background()) // logs in (the tags route is unrouted: 404 is fine)
	g.Expect(IsNotFound(err)).To(BeTrue())
	ls.revoke("access-1")
	before := testutil.ToFloat64(retriesTotal.WithLabelValues("GetVM", "unauthorized"))

	vm, err := c.GetVM(context.Background(), "abc")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(vm.VM.Hostname)).To(Equal("capvpsie-demo-md-0-abcde"))
	g.Expect(ls.logins()).To(Equal(2), "exactly one re-login")
	calls := f.requests("GET /api/v2/vm/abc")
	g.Expect(calls).To(HaveLen(2), "exactly one retry")
	g.Expect(calls[0].Header.Get("Vpsie-Auth")).To(Equal("access-1"))
	g.Expect(calls[1].Header.Get("Vpsie-Auth")).To(Equal("access-2"))
	g.Expect(testutil.ToFloat64(retriesTotal.WithLabelValues("GetVM", "unauthorized")) - before).To(Equal(1.0))
}

func TestSecondUnauthorizedFails(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, ls.issue)
	f.reply("POST /api/v2/vm", 401, testdata(t, "error_authenticate.json")) // refuses every token
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a login loop fails, not hangs
	defer cancel()
	err := c.CreateVM(ctx, validCreate())
	g.Expect(IsUnauthorized(err)).To(BeTrue(), "%v", err)
	g.Expect(ls.logins()).To(Equal(2))
	g.Expect(f.count("POST /api/v2/vm")).To(Equal(2), "one retry after re-login, then give up")
}

func TestStaticTokenUnauthorizedIsFinal(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/vpc", 401, testdata(t, "error_authenticate.json"))
	c, _ := newTestClient(t, f)
	_, err := c.ListVPCs(context.Background())
	g.Expect(IsUnauthorized(err)).To(BeTrue())
	g.Expect(f.count("GET /apps/v2/vpc")).To(Equal(1))
	g.Expect(f.count("POST " + loginPath)).To(Equal(0))
}

func TestConcurrentCallersShareOneLoginAndOneRelogin(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	release := make(chan struct{})
	f.handle("POST "+loginPath, func(w http.ResponseWriter, r *http.Request) {
		<-release // hold the login so that callers pile up behind it
		ls.issue(w, r)
	})
	f.handle("GET /apps/v2/vpc", ls.protect(answer(200, testdata(t, "vpcs.json"))))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })

	run := func(n int) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = c.ListVPCs(context.Background()) })
		}
		wg.Wait()
		return errs
	}
	go func() { time.Sleep(50 * time.Millisecond); close(release) }()
	for _, err := range run(20) {
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(ls.logins()).To(Equal(1))

	ls.revoke("access-1") // every caller now gets a 401 with the same token
	for _, err := range run(20) {
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(ls.logins()).To(Equal(2), "concurrent 401s share one re-login")
}

func TestLoginWaitIsBoundedByCallerContext(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	release := make(chan struct{})
	defer close(release)
	f.handle("POST "+loginPath, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListVPCs(ctx)
	g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
}

func TestParseLoginAnswerShapes(t *testing.T) {
	g := NewWithT(t)
	for _, tc := range []struct {
		body    string
		tok     string
		expires string
	}{
		{`{"error":false,"token":{"access":{"token":"a","expires":"2025-06-01T13:00:00Z"}}}`, "a", "2025-06-01T13:00:00Z"},
		{`{"accessToken":{"token":"b","expires":"2025-06-01T13:00:00.123+02:00"}}`, "b", "2025-06-01T11:00:00.123Z"},
		{`{"error":false,"data":{"accessToken":{"token":"c","expires":"2025-06-01T13:00:00Z"}}}`, "c", "2025-06-01T13:00:00Z"},
		{`{"accessToken":"d"}`, "d", ""},
		{`{"token":"e"}`, "e", ""},
	} {
		tok, exp, ok := parseLoginAnswer([]byte(tc.body))
		g.Expect(ok).To(BeTrue(), tc.body)
		g.Expect(tok).To(Equal(tc.tok))
		if tc.expires == "" {
			g.Expect(exp.IsZero()).To(BeTrue())
		} else {
			want, _ := time.Parse(time.RFC3339Nano, tc.expires)
			g.Expect(exp.Equal(want)).To(BeTrue(), tc.body)
		}
	}
	_, _, ok := parseLoginAnswer([]byte(`{"error":false}`))
	g.Expect(ok).To(BeFalse())
	_, _, ok = parseLoginAnswer([]byte(`not json`))
	g.Expect(ok).To(BeFalse())
}

func TestLoginWithoutExpiryUsesDefaultLifetime(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	f.reply("POST "+loginPath, 200, `{"accessToken":{"token":"tok-no-expiry"}}`)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":[]}`)
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	clock.Advance(defaultTokenLifetime - DefaultTokenRefreshSkew - time.Minute)
	_, _ = c.ListTags(context.Background())
	g.Expect(f.count("POST " + loginPath)).To(Equal(1))
	clock.Advance(2 * time.Minute)
	_, _ = c.ListTags(context.Background())
	g.Expect(f.count("POST " + loginPath)).To(Equal(2))
}

func TestRefreshPoint(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	g.Expect(refreshPoint(now, now.Add(time.Hour), 5*time.Minute)).To(Equal(now.Add(55 * time.Minute)))
	// A token shorter-lived than the skew is renewed at half its life, not on every call.
	g.Expect(refreshPoint(now, now.Add(4*time.Minute), 5*time.Minute)).To(Equal(now.Add(2 * time.Minute)))
}

func TestNewValidatesConfig(t *testing.T) {
	g := NewWithT(t)
	_, err := New(Config{})
	g.Expect(err).To(MatchError(ContainSubstring("Token")))
	_, err = New(Config{Token: "x", BaseURL: "ftp://example"})
	g.Expect(err).To(HaveOccurred())
	_, err = New(Config{Token: "x", VMPathPrefix: "api/v2"})
	g.Expect(err).To(HaveOccurred())
	c, err := New(Config{Token: "x", ClientID: "id", ClientSecret: "s"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.auth).To(BeAssignableToTypeOf(&staticAuth{}), "a static token wins")
	g.Expect(c.baseURL).To(Equal(DefaultBaseURL))
	g.Expect(c.vmPrefix).To(Equal(VMPrefixAPI))
	g.Expect(c.maxRetries).To(Equal(DefaultMaxRetries))
	c, err = New(Config{ClientID: "id", ClientSecret: "s", MaxRetries: -1, BaseURL: "https://api2.vpsie.com/"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.maxRetries).To(Equal(0))
	g.Expect(c.baseURL).To(Equal("https://api2.vpsie.com"))
}

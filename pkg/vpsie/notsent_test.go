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
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestNotSentRules pins NotSent on errors as the client builds them, and on errors built by
// hand (fakes in other packages build *Error values with a class and a status only).
func TestNotSentRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"foreign error", errors.New("boom"), false},
		{"bare context error", context.Canceled, false},
		{"API 429", &Error{HTTPStatus: 429, Class: ClassRateLimited}, true},
		{"rate-limit wording at 500", &Error{HTTPStatus: 500, Class: ClassRateLimited, Message: "Request throttled"}, true},
		{"client-side limiter", &Error{Class: ClassRateLimited, RetryAfter: time.Second}, true},
		{"401", &Error{HTTPStatus: 401, Class: ClassUnauthorized}, true},
		{"400 validation", &Error{HTTPStatus: 400, Class: ClassTerminal, Message: "dcIdentifier is required"}, true},
		{"422", &Error{HTTPStatus: 422, Class: ClassTerminal}, true},
		{"JSON 404 for a referenced plan", &Error{HTTPStatus: 404, Class: ClassTerminal}, true},
		{"404 not found", &Error{HTTPStatus: 404, Class: ClassNotFound}, true},
		{"timeout wording at 400", &Error{HTTPStatus: 400, Class: ClassTransient, Message: "Upstream timeout"}, false},
		{"quota at 200 (error:true)", &Error{HTTPStatus: 200, Class: ClassTerminal, Message: "Worker nodes count exceeds the allowed limit 5"}, false},
		{"quota at 500", &Error{HTTPStatus: 500, Code: 500, Class: ClassTerminal}, false},
		{"not found at 500", &Error{HTTPStatus: 500, Class: ClassNotFound}, false},
		{"HTML 502", &Error{HTTPStatus: 502, Class: ClassTransient}, false},
		{"transient 200 error:true", &Error{HTTPStatus: 200, Class: ClassTransient, Message: "please try again"}, false},
		{"network error", &Error{Class: ClassTransient, Message: "request failed"}, false},
		{"terminal of unknown provenance", &Error{Class: ClassTerminal}, false},
		{"marked not processed", refusedBeforeSending(&Error{Class: ClassTerminal}), true},
		{"marked not processed, transient", refusedBeforeSending(&Error{Class: ClassTransient}), true},
		{"earlier attempt may have run", &Error{HTTPStatus: 429, Class: ClassRateLimited, processing: mayHaveBeenProcessed}, false},
		{"wrapped", fmt.Errorf("reconcile: %w", &Error{HTTPStatus: 429, Class: ClassRateLimited}), true},
		{"outer operation decides", &Error{Operation: "CreateVM", Class: ClassTransient, processing: notProcessed,
			Err: &Error{Operation: "Login", HTTPStatus: 502, Class: ClassTransient}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(NotSent(tc.err)).To(Equal(tc.want))
		})
	}
}

// TestNotSentFromTheClient checks what the client's own calls return.
func TestNotSentFromTheClient(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	withHeader := func(k, v string, h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.Header().Set(k, v); h(w, r) }
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc // for POST /api/v2/vm
		mod     func(*Config)
		call    func(ctx context.Context, c *Client) error
		want    bool
		sent    int // requests that reached POST /api/v2/vm
	}{
		{name: "missing required fields", call: func(ctx context.Context, c *Client) error {
			return c.CreateVM(ctx, CreateVMRequest{Hostname: "h"})
		}, want: true},
		{name: "empty identifier", call: func(ctx context.Context, c *Client) error {
			_, err := c.GetVM(ctx, "")
			return err
		}, want: true},
		{name: "delete without password", call: func(ctx context.Context, c *Client) error {
			return c.DeleteVM(ctx, "vm-1", "", "", "")
		}, want: true},
		{name: "body cannot be encoded", call: func(ctx context.Context, c *Client) error {
			_, err := c.do(ctx, request{op: "CreateVM", method: http.MethodPost, path: "/api/v2/vm", body: make(chan int)})
			return err
		}, want: true},
		{name: "request cannot be built", call: func(ctx context.Context, c *Client) error {
			_, err := c.do(ctx, request{op: "CreateVM", method: "BAD METHOD", path: "/api/v2/vm"})
			return err
		}, want: true},
		{name: "context already done", call: func(_ context.Context, c *Client) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return c.CreateVM(ctx, validCreate())
		}, want: true},
		{name: "client-side budget exhausted", mod: func(c *Config) {
			c.RequestsPerMinute, c.Burst, c.MaxWait = 1, 1, 10*time.Millisecond
		}, handler: answer(200, `{"error":false,"data":true}`), call: func(ctx context.Context, c *Client) error {
			if err := c.CreateVM(ctx, validCreate()); err != nil {
				return fmt.Errorf("first create: %w", err)
			}
			return c.CreateVM(ctx, validCreate())
		}, want: true, sent: 1},
		{name: "API 429", handler: tooManyRequests, call: createVM, want: true, sent: 1},
		{name: "API 429 with Retry-After", handler: withHeader("Retry-After", "3", tooManyRequests), call: createVM, want: true, sent: 1},
		{name: "400 validation refusal", handler: answer(400, `{"error":true,"code":400,"message":"Invalid osIdentifier"}`),
			call: createVM, want: true, sent: 1},
		{name: "network error", handler: dropConnection, call: createVM, want: false, sent: 1},
		{name: "attempt timeout", handler: hang, mod: func(c *Config) { c.RequestTimeout = 50 * time.Millisecond },
			call: createVM, want: false, sent: 1},
		{name: "canceled in flight", handler: hang, call: func(_ context.Context, c *Client) error {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return c.CreateVM(ctx, validCreate())
		}, want: false, sent: 1},
		{name: "HTML 502", handler: answer(502, "<html>502 Bad Gateway</html>"), call: createVM, want: false, sent: 1},
		{name: "200 with a transient error", handler: answer(200, `{"error":true,"message":"Something went wrong, please try again"}`),
			call: createVM, want: false, sent: 1},
		{name: "200 with a quota error", handler: answer(200, testdata(t, "error_quota.json")), call: createVM, want: false, sent: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeAPI(t)
			if tc.handler != nil {
				f.handle("POST /api/v2/vm", tc.handler)
			}
			mods := []func(*Config){}
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			c, _ := newTestClient(t, f, mods...)
			err := tc.call(context.Background(), c)
			g.Expect(err).To(HaveOccurred())
			g.Expect(NotSent(err)).To(Equal(tc.want), "%v", err)
			g.Expect(f.count("POST /api/v2/vm")).To(Equal(tc.sent))
		})
	}
}

func createVM(ctx context.Context, c *Client) error { return c.CreateVM(ctx, validCreate()) }

// A login that fails before the call is sent makes the call NotSent, whatever the login's class.
func TestNotSentWhenLoginFails(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST "+loginPath, 502, testdata(t, "gateway_502.html"))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret))
	err := c.CreateVM(context.Background(), validCreate())
	g.Expect(IsTransient(err)).To(BeTrue())
	g.Expect(NotSent(err)).To(BeTrue(), "%v", err)
	g.Expect(f.count("POST /api/v2/vm")).To(Equal(0))
}

// A 401 is refused before processing; when the re-login then fails, nothing was processed.
func TestNotSentAfterUnauthorizedAndFailedRelogin(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, sequence(ls.issue, answer(502, "<html>502</html>")))
	f.reply("POST /api/v2/vm", 401, testdata(t, "error_authenticate.json"))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	err := c.CreateVM(context.Background(), validCreate())
	g.Expect(IsTransient(err)).To(BeTrue(), "%v", err)
	g.Expect(NotSent(err)).To(BeTrue())
	g.Expect(f.count("POST /api/v2/vm")).To(Equal(1))
}

// When an earlier attempt of a retried call may have been processed, a later refusal does not
// make the call NotSent.
func TestNotSentFalseAfterAnEarlierAttemptMayHaveRun(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("DELETE /api/v2/vm", sequence(answer(502, "<html>502</html>"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		tooManyRequests(w, r)
	}))
	c, _ := newTestClient(t, f)
	err := c.DeleteVM(context.Background(), "vm-1", "pw", "", "")
	_, limited := IsRateLimited(err)
	g.Expect(limited).To(BeTrue(), "%v", err)
	g.Expect(NotSent(err)).To(BeFalse(), "the first attempt may have deleted the VM")
	g.Expect(f.count("DELETE /api/v2/vm")).To(Equal(2))

	// And a context ending before the next attempt keeps the earlier attempt's uncertainty.
	f.handle("DELETE /api/v2/vm", answer(502, "<html>502</html>"))
	c2, _ := newTestClient(t, f, func(c *Config) {
		c.Token = "another-account" // not held by the Retry-After above
		c.Sleep = func(context.Context, time.Duration) error { return context.Canceled }
	})
	err = c2.DeleteVM(context.Background(), "vm-1", "pw", "", "")
	g.Expect(errors.Is(err, context.Canceled)).To(BeTrue(), "%v", err)
	g.Expect(NotSent(err)).To(BeFalse())
}

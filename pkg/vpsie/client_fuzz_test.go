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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// The fuzz targets of this file answer the real client's calls with fuzzed statuses and bodies through an
// httptest server, so that the whole path (transport, envelope, typed decoding, paging, login) is covered,
// not only the decoding functions envelope_fuzz_test.go calls directly.

// fuzzAnswer is what the fuzz server answers, set by each iteration.
type fuzzAnswer struct {
	status     int
	retryAfter string
	body       []byte
}

// fuzzServer answers every route with the current answer. Lists page: after a few pages it answers an empty
// list, so that an answer announcing a huge total ends the call quickly (the client stops at maxPages, which
// would make one iteration a thousand requests long).
type fuzzServer struct {
	srv *httptest.Server

	mu       sync.Mutex
	answer   fuzzAnswer
	login    fuzzAnswer // answer of the login route; the other routes get `answer`
	requests int
	auth     []string // Vpsie-Auth and Authorization of every non-login request
}

const fuzzPagesBeforeEmpty = 3

func newFuzzServer(f *testing.F) *fuzzServer {
	s := &fuzzServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	f.Cleanup(s.srv.Close)
	return s
}

func (s *fuzzServer) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	a := s.answer
	if r.URL.Path == loginPath {
		a = s.login
	} else {
		s.requests++
		s.auth = append(s.auth, r.Header.Get("Vpsie-Auth"), r.Header.Get("Authorization"))
		if s.requests > fuzzPagesBeforeEmpty {
			a = fuzzAnswer{status: http.StatusOK, body: []byte(`{"error":false,"data":[]}`)}
		}
	}
	s.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// reset sets the answers of the next iteration.
func (s *fuzzServer) reset(answer, login fuzzAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer, s.login, s.requests, s.auth = answer, login, 0, nil
}

func (s *fuzzServer) sentAuth() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// client builds a fresh client for one iteration: no retries (one fuzzed answer is one attempt), an instant
// sleeper and a fresh shared limiter, so that a Retry-After or a slow-down an earlier iteration provoked does
// not make later ones wait.
func (s *fuzzServer) client(t *testing.T, mods ...func(*Config)) *Client {
	t.Helper()
	limiters.Lock()
	limiters.m = map[string]*accountLimiter{}
	limiters.Unlock()
	cfg := Config{
		BaseURL:           s.srv.URL,
		Token:             testToken,
		RequestsPerMinute: 600000,
		Burst:             1000,
		MaxRetries:        -1,
		MaxWait:           10 * time.Millisecond,
		RequestTimeout:    5 * time.Second,
		Sleep:             func(context.Context, time.Duration) error { return nil },
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fuzzCall is one client call and whether it only reads.
type fuzzCall struct {
	op   string
	read bool
	call func(context.Context, *Client) (any, error)
}

func readCall[T any](op string, call func(*Client, context.Context) (T, error)) fuzzCall {
	return fuzzCall{op: op, read: true, call: func(ctx context.Context, c *Client) (any, error) { return call(c, ctx) }}
}

func writeCall(op string, call func(context.Context, *Client) error) fuzzCall {
	return fuzzCall{op: op, call: func(ctx context.Context, c *Client) (any, error) { return nil, call(ctx, c) }}
}

// fuzzCalls are the calls of the API that decode an answer, and a few mutations (which only read the
// envelope, but whose errors decide whether a create is known not made).
var fuzzCalls = []fuzzCall{
	readCall("ListVMs", func(c *Client, ctx context.Context) ([]VM, error) { return c.ListVMs(ctx, ListVMsOptions{}) }),
	readCall("GetVM", func(c *Client, ctx context.Context) (*VMDetails, error) { return c.GetVM(ctx, "vm-1") }),
	readCall("GetVMStatus", func(c *Client, ctx context.Context) (*VMStatus, error) { return c.GetVMStatus(ctx, "vm-1") }),
	readCall("ListPendingVMs", (*Client).ListPendingVMs),
	readCall("ListDatacenters", (*Client).ListDatacenters),
	readCall("ListPlans", func(c *Client, ctx context.Context) ([]Plan, error) {
		return c.ListPlans(ctx, PlanQuery{DcIdentifier: "dc-1", OSIdentifier: "os-1"})
	}),
	readCall("ListPlanCategories", (*Client).ListPlanCategories),
	readCall("ListCustomImages", (*Client).ListCustomImages),
	readCall("ListSSHKeys", (*Client).ListSSHKeys),
	readCall("ListTags", (*Client).ListTags),
	readCall("ListVPCs", (*Client).ListVPCs),
	readCall("GetVPC", func(c *Client, ctx context.Context) (*VPC, error) { return c.GetVPC(ctx, "77") }),
	readCall("ListLoadBalancers", (*Client).ListLoadBalancers),
	readCall("GetLoadBalancer", func(c *Client, ctx context.Context) (*LoadBalancer, error) { return c.GetLoadBalancer(ctx, "lb-1") }),
	readCall("ListPendingLoadBalancers", (*Client).ListPendingLoadBalancers),
	readCall("ListLoadBalancerOffers", func(c *Client, ctx context.Context) ([]LBPlan, error) {
		return c.ListLoadBalancerOffers(ctx, "dc-1")
	}),
	writeCall("CreateVM", func(ctx context.Context, c *Client) error {
		return c.CreateVM(ctx, CreateVMRequest{Hostname: "capvpsie-demo-md-0-abcde", ResourceIdentifier: "plan-1",
			OSIdentifier: "os-1", DcIdentifier: "dc-1", UserData: []byte("#cloud-config\n")})
	}),
	writeCall("DeleteVM", func(ctx context.Context, c *Client) error { return c.DeleteVM(ctx, "vm-1", "pw", "", "") }),
	writeCall("CreateLoadBalancer", func(ctx context.Context, c *Client) error {
		return c.CreateLoadBalancer(ctx, CreateLoadBalancerRequest{Name: "capvpsie-demo-apiserver"})
	}),
	writeCall("CreateVPC", func(ctx context.Context, c *Client) error {
		return c.CreateVPC(ctx, CreateVPCRequest{Name: "capvpsie-demo", DcIdentifier: "dc-1"})
	}),
}

// answerStatus maps a fuzzed number to a status the fuzz server can answer with: 200..599 (1xx are not
// final answers, and nothing above 599 is HTTP).
func answerStatus(n uint16) int { return 200 + int(n)%400 }

// FuzzClientAnswers makes one client call answered with a fuzzed status, Retry-After and body.
func FuzzClientAnswers(f *testing.F) {
	bodies := seedBodies(f)
	for i, call := range fuzzCalls {
		for j, body := range bodies {
			if (i+j)%4 != 0 || call.read && len(bytes.TrimSpace(body)) == 0 {
				// Every body with a few calls keeps the baseline short. A read answered with no body reads as
				// "none" or "not found" (an open bug; the fuzzer finds it at once).
				continue
			}
			f.Add(uint8(i), uint16(0), "", body) // HTTP 200
		}
		f.Add(uint8(i), uint16(302), "", []byte(`<html>502 Bad Gateway</html>`))
		f.Add(uint8(i), uint16(229), "3", []byte(`{"error":true,"message":"Too many requests"}`))
		f.Add(uint8(i), uint16(201), "", []byte(`{"error":true,"message":"Please authenticate"}`))
		f.Add(uint8(i), uint16(300), "", []byte(`{"error":true,"code":500,"message":"Worker nodes count exceeds the allowed limit 5","type":false}`))
		f.Add(uint8(i), uint16(204), "", []byte(`Not Found`))
	}
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, which uint8, status uint16, retryAfter string, body []byte) {
		g := NewWithT(t)
		call := fuzzCalls[int(which)%len(fuzzCalls)]
		code := answerStatus(status)
		srv.reset(fuzzAnswer{status: code, retryAfter: retryAfter, body: body}, fuzzAnswer{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := call.call(ctx, srv.client(t))

		trimmed := bytes.TrimSpace(body)
		isJSON := len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(trimmed)
		if call.read && code < 300 && len(trimmed) == 0 {
			// An answer with no body says nothing about the objects: read as "none" or "not found" it would make
			// live servers look deleted, what interpret already refuses for a 2xx page that is not JSON.
			g.Expect(err).To(HaveOccurred(), "%s answered HTTP %d with no body read as %#v", call.op, code, out)
		}
		if err == nil {
			g.Expect(code).To(BeNumerically("<", 300), "HTTP %d read as a success", code)
			if call.read && strings.HasPrefix(call.op, "Get") {
				g.Expect(out).NotTo(BeNil())
			}
			if vm, ok := out.(*VMDetails); ok {
				g.Expect(vm.VM.Identifier != "" || vm.VM.ID != 0).To(BeTrue(), "GetVM returned a VM without identity")
			}
			return
		}
		var e *Error
		g.Expect(errors.As(err, &e)).To(BeTrue(), "%T is not an *Error: %v", err, err)
		expectWellFormed(g, e, call.op)
		if code >= 200 && code < 300 && !isJSON && len(trimmed) > 0 {
			g.Expect(e.Class).To(Equal(ClassTransient), "a 2xx page that is not JSON: %v", e)
		}
		if !isJSON {
			g.Expect(e.Class).NotTo(Equal(ClassNotFound), "a non-JSON answer read as not found: %v", e)
		}
		if !call.read && (code < 300 || code >= 500) && e.Class != ClassRateLimited && e.Class != ClassUnauthorized {
			// VPSie answers 200 with error:true and 500 with a quota message from inside its handlers: a
			// mutation that got such an answer may have been made, and must not be forgotten as never sent.
			g.Expect(NotSent(err)).To(BeFalse(), "HTTP %d %q declared not sent: %v", code, body, e)
		}
	})
}

// FuzzLogin answers the login of a client with client credentials with a fuzzed status and body, then
// checks the call that needed the login.
func FuzzLogin(f *testing.F) {
	for _, body := range seedBodies(f) {
		f.Add(uint16(0), body)
	}
	for _, s := range []string{
		`{"error":false,"token":{"access":{"token":"tok-sdk","expires":"2999-01-01T00:00:00Z"}}}`,
		`{"accessToken":{"token":"tok-autoscaler","expires":"2000-01-01T00:00:00Z"}}`,
		`{"accessToken":"bare-token"}`,
		`{"error":false,"data":{"accessToken":{"token":"wrapped"}}}`,
		`{"error":true,"message":"Invalid credentials"}`,
		`{"error":false,"token":{"access":{"token":" padded "}}}`,
		`{"error":false,"token":{"access":{"token":"line\nbreak"}}}`,
		`{"error":false,"token":{"access":{"token":"caf\u00e9"}}}`,
		`{"error":false,"token":{"access":{"token":12345}}}`,
	} {
		f.Add(uint16(0), []byte(s))
	}
	f.Add(uint16(201), []byte(`{"error":true,"message":"Please authenticate"}`))
	f.Add(uint16(204), []byte(`Not Found`))
	f.Add(uint16(302), []byte(`<html>502</html>`))
	f.Add(uint16(229), []byte(`{"error":true,"message":"Too many requests"}`))
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		g := NewWithT(t)
		code := answerStatus(status)
		srv.reset(fuzzAnswer{status: http.StatusOK, body: []byte(`{"error":false,"data":[{"id":1,"identifier":"key-1"}]}`)},
			fuzzAnswer{status: code, body: body})
		c := srv.client(t, withCredentials("client-1", "secret-1"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := c.ListSSHKeys(ctx)
		if err != nil {
			var e *Error
			g.Expect(errors.As(err, &e)).To(BeTrue(), "%T is not an *Error: %v", err, err)
			expectWellFormed(g, e, "ListSSHKeys")
			// "Not found" from the login route is a misconfiguration, never a missing object.
			g.Expect(e.Class).NotTo(Equal(ClassNotFound), "a failed login read as not found: %v", e)
			return
		}
		g.Expect(keys).To(HaveLen(1))
		g.Expect(code).To(BeNumerically("<", 300), "a login answered HTTP %d accepted", code)
		tok, _, ok := parseLoginAnswer(bytes.TrimSpace(body))
		g.Expect(ok).To(BeTrue(), "a login answer without a token accepted: %q", body)
		// The call carried exactly the token of the answer, both ways (as net/http puts header values on the
		// wire: without surrounding blanks).
		g.Expect(srv.sentAuth()).To(Equal([]string{textproto.TrimString(tok), textproto.TrimString("Bearer " + tok)}))
	})
}

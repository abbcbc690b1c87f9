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
	"net/http"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHTMLGatewayErrorIsTransientAndRetriedForGET(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	html := testdata(t, "gateway_502.html")
	f.handle("GET /apps/v2/vpc", sequence(answer(502, html), answer(502, html), answer(200, testdata(t, "vpcs.json"))))
	c, sleeper := newTestClient(t, f)
	before := testutil.ToFloat64(retriesTotal.WithLabelValues("ListVPCs", "server_error"))
	before502 := testutil.ToFloat64(requestsTotal.WithLabelValues("ListVPCs", "502"))

	vpcs, err := c.ListVPCs(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vpcs).To(HaveLen(2))
	g.Expect(f.count("GET /apps/v2/vpc")).To(Equal(3))
	g.Expect(sleeper.Waits()).To(HaveLen(2))
	for i, w := range sleeper.Waits() { // full jitter: within [0, base·2^i]
		g.Expect(w).To(BeNumerically("<=", DefaultRetryBaseDelay<<i))
	}
	g.Expect(testutil.ToFloat64(retriesTotal.WithLabelValues("ListVPCs", "server_error")) - before).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("ListVPCs", "502")) - before502).To(Equal(2.0))
}

func TestRetriesGiveUpAfterMaxRetries(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/vpc", 502, testdata(t, "gateway_502.html"))
	c, _ := newTestClient(t, f, func(c *Config) { c.MaxRetries = 2 })
	_, err := c.ListVPCs(context.Background())
	g.Expect(IsTransient(err)).To(BeTrue())
	var e *Error
	g.Expect(errors.As(err, &e)).To(BeTrue())
	g.Expect(e.HTTPStatus).To(Equal(502))
	g.Expect(e.Operation).To(Equal("ListVPCs"))
	g.Expect(f.count("GET /apps/v2/vpc")).To(Equal(3))
}

func TestCreateIsNeverRetried(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		check   func(g Gomega, err error)
	}{
		{"HTML 502", answer(502, "<html>502 Bad Gateway</html>"), func(g Gomega, err error) { g.Expect(IsTransient(err)).To(BeTrue()) }},
		{"JSON 500", answer(500, `{"error":true,"code":500,"message":"Internal error"}`), func(g Gomega, err error) { g.Expect(IsTransient(err)).To(BeTrue()) }},
		{"503 with Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			writeBody(w, 503, "<html>503</html>")
		}, func(g Gomega, err error) { g.Expect(RetryAfter(err)).To(Equal(time.Second)) }},
		{"network error", dropConnection, func(g Gomega, err error) { g.Expect(IsTransient(err)).To(BeTrue()) }},
		{"429", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "4")
			writeBody(w, 429, `{"error":true,"message":"Too many requests"}`)
		}, func(g Gomega, err error) {
			d, ok := IsRateLimited(err)
			g.Expect(ok).To(BeTrue())
			g.Expect(d).To(Equal(4 * time.Second))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeAPI(t)
			f.handle("POST /api/v2/vm", tc.handler)
			c, sleeper := newTestClient(t, f)
			err := c.CreateVM(context.Background(), validCreate())
			g.Expect(err).To(HaveOccurred())
			tc.check(g, err)
			g.Expect(f.count("POST /api/v2/vm")).To(Equal(1), "a create must never be sent twice")
			g.Expect(sleeper.Waits()).To(BeEmpty())
		})
	}
}

func TestNetworkErrorRetriedForGET(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/sshkeys", sequence(dropConnection, answer(200, testdata(t, "sshkeys.json"))))
	c, _ := newTestClient(t, f)
	before := testutil.ToFloat64(requestsTotal.WithLabelValues("ListSSHKeys", "network"))
	keys, err := c.ListSSHKeys(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys).To(HaveLen(1))
	g.Expect(f.count("GET /apps/v2/sshkeys")).To(Equal(2))
	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("ListSSHKeys", "network")) - before).To(Equal(1.0))
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	slow := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() } // never answers
	f.handle("GET /apps/v2/tags", sequence(slow, answer(200, testdata(t, "tags.json"))))
	c, _ := newTestClient(t, f, func(c *Config) { c.RequestTimeout = 100 * time.Millisecond })
	tags, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tags).To(HaveLen(1))
	g.Expect(f.count("GET /apps/v2/tags")).To(Equal(2))
}

func TestRetryAfterSecondsAndDateAreHonoured(t *testing.T) {
	g := NewWithT(t)
	clock := newFakeClock()
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", sequence(
		func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			writeBody(w, 429, `{"error":true,"message":"Too many requests"}`)
		},
		func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", clock.Now().Add(12*time.Second).Format(http.TimeFormat))
			writeBody(w, 503, "<html>503 Service Temporarily Unavailable</html>")
		},
		answer(200, testdata(t, "tags.json")),
	))
	c, sleeper := newTestClient(t, f, func(c *Config) { c.Now = clock.Now })
	before := testutil.ToFloat64(rateLimitWaitSeconds.WithLabelValues("retry_after"))
	beforeRetries := testutil.ToFloat64(retriesTotal.WithLabelValues("ListTags", "rate_limited"))

	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sleeper.Waits()).To(Equal([]time.Duration{7 * time.Second, 12 * time.Second}))
	g.Expect(testutil.ToFloat64(rateLimitWaitSeconds.WithLabelValues("retry_after")) - before).To(Equal(19.0))
	g.Expect(testutil.ToFloat64(retriesTotal.WithLabelValues("ListTags", "rate_limited")) - beforeRetries).To(Equal(1.0))
}

func TestRetryAfterRealTime(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", sequence(
		func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			writeBody(w, 429, `{"error":true,"message":"Too many requests"}`)
		},
		answer(200, testdata(t, "tags.json")),
	))
	c, _ := newTestClient(t, f, func(c *Config) { c.Sleep = nil }) // the real sleeper
	start := time.Now()
	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(time.Since(start)).To(BeNumerically(">=", time.Second))
	reqs := f.requests("GET /apps/v2/tags")
	g.Expect(reqs).To(HaveLen(2))
	g.Expect(reqs[1].At.Sub(reqs[0].At)).To(BeNumerically(">=", time.Second))
}

func TestRetryAfterLongerThanMaxWaitIsReturned(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		writeBody(w, 429, `{"error":true,"message":"Too many requests"}`)
	})
	c, sleeper := newTestClient(t, f)
	_, err := c.ListTags(context.Background())
	d, ok := IsRateLimited(err)
	g.Expect(ok).To(BeTrue())
	g.Expect(d).To(Equal(2 * time.Minute))
	g.Expect(sleeper.Waits()).To(BeEmpty())
	g.Expect(f.count("GET /apps/v2/tags")).To(Equal(1))
}

func TestRetryAfterBeyondDeadlineIsReturned(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "10")
		writeBody(w, 429, `{"error":true,"message":"Too many requests"}`)
	})
	c, _ := newTestClient(t, f, func(c *Config) { c.Sleep = nil })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.ListTags(ctx)
	g.Expect(time.Since(start)).To(BeNumerically("<", time.Second), "no pointless wait")
	d, ok := IsRateLimited(err)
	g.Expect(ok).To(BeTrue())
	g.Expect(d).To(Equal(10 * time.Second))
}

func TestBackoffBeyondDeadlineIsNotSlept(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 502, "<html>502</html>")
	c, sleeper := newTestClient(t, f, func(c *Config) { c.RetryBaseDelay = time.Hour; c.RetryMaxDelay = time.Hour })
	c.jitter = func(n int64) int64 { return n - 1 }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.ListTags(ctx)
	g.Expect(IsTransient(err)).To(BeTrue())
	g.Expect(RetryAfter(err)).To(BeNumerically(">", 30*time.Minute))
	g.Expect(sleeper.Waits()).To(BeEmpty())
}

func TestContextCancellation(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

	t.Run("canceled while waiting for the answer", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeAPI(t)
		f.handle("GET /api/v2/vm", hang)
		c, _ := newTestClient(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		before := testutil.ToFloat64(requestsTotal.WithLabelValues("ListVMs", "canceled"))
		start := time.Now()
		_, err := c.ListVMs(ctx, ListVMsOptions{})
		g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
		g.Expect(errors.Is(err, context.Canceled)).To(BeTrue(), "%v", err)
		g.Expect(f.count("GET /api/v2/vm")).To(Equal(1), "no retry after the caller gave up")
		g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("ListVMs", "canceled")) - before).To(Equal(1.0))
	})
	t.Run("deadline while waiting for the answer", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeAPI(t)
		f.handle("GET /api/v2/vm", hang)
		c, _ := newTestClient(t, f)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.ListVMs(ctx, ListVMsOptions{})
		g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "%v", err)
		g.Expect(IsTransient(err)).To(BeTrue())
	})
	t.Run("already canceled", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeAPI(t)
		c, _ := newTestClient(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := c.CreateVM(ctx, validCreate())
		g.Expect(errors.Is(err, context.Canceled)).To(BeTrue())
		g.Expect(f.count("")).To(Equal(0))
	})
	t.Run("canceled during a retry backoff", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeAPI(t)
		f.reply("GET /api/v2/vm", 502, "<html>502</html>")
		c, _ := newTestClient(t, f, func(c *Config) {
			c.Sleep = nil
			c.RetryBaseDelay = time.Minute
			c.RetryMaxDelay = time.Minute
		})
		c.jitter = func(n int64) int64 { return n - 1 }
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.ListVMs(ctx, ListVMsOptions{})
		g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
		g.Expect(errors.Is(err, context.Canceled)).To(BeTrue())
		var e *Error
		g.Expect(errors.As(err, &e)).To(BeTrue())
		g.Expect(e.HTTPStatus).To(Equal(502), "the last API error is kept")
	})
}

// TestSharedBudgetAcrossClients runs 100 concurrent callers on two Clients built from the
// same credentials. With the default budget (100/min, burst 10) only the burst can be spent
// at once; callers whose wait would exceed MaxWait get a RateLimited error carrying the wait.
func TestSharedBudgetAcrossClients(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":[]}`)
	mk := func(token string) *Client {
		c, err := New(Config{BaseURL: f.srv.URL, Token: token, MaxWait: 100 * time.Millisecond})
		g.Expect(err).NotTo(HaveOccurred())
		return c
	}
	a, b := mk("shared-token"), mk("shared-token")
	g.Expect(a.limiter).To(BeIdenticalTo(b.limiter))

	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var limited int
	for i := range 100 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() {
			_, err := c.ListTags(context.Background())
			if d, ok := IsRateLimited(err); ok && d > 0 {
				mu.Lock()
				limited++
				mu.Unlock()
			} else if err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	window := time.Since(start)
	served := f.count("GET /apps/v2/tags")
	// Within the window the budget allows the burst plus one request per 600ms.
	allowed := DefaultBurst + int(window/(600*time.Millisecond))
	g.Expect(served).To(BeNumerically(">=", DefaultBurst))
	g.Expect(served).To(BeNumerically("<=", allowed))
	g.Expect(served + limited).To(Equal(100))

	// Other credentials have their own budget.
	other := mk("other-token")
	g.Expect(other.limiter).NotTo(BeIdenticalTo(a.limiter))
	_, err := other.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
}

func TestLimiterWaitsInRealTime(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":[]}`)
	c, _ := newTestClient(t, f, func(c *Config) { c.RequestsPerMinute = 600; c.Burst = 1 }) // 10/s
	before := testutil.ToFloat64(rateLimitWaitSeconds.WithLabelValues("limiter"))
	for range 3 {
		_, err := c.ListTags(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
	}
	reqs := f.requests("GET /apps/v2/tags")
	g.Expect(reqs[2].At.Sub(reqs[0].At)).To(BeNumerically(">=", 180*time.Millisecond))
	g.Expect(testutil.ToFloat64(rateLimitWaitSeconds.WithLabelValues("limiter")) - before).To(BeNumerically(">", 0.1))
}

func TestLimiterRespectsDeadlineAndCancel(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":[]}`)
	c, _ := newTestClient(t, f, func(c *Config) { c.RequestsPerMinute = 6; c.Burst = 1 }) // one per 10s
	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = c.ListTags(ctx)
	d, ok := IsRateLimited(err)
	g.Expect(ok).To(BeTrue())
	g.Expect(d).To(BeNumerically(">", 5*time.Second))

	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	_, err = c.ListTags(ctx2)
	g.Expect(errors.Is(err, context.Canceled)).To(BeTrue())
	g.Expect(f.count("GET /apps/v2/tags")).To(Equal(1))
}

func TestNoContentIsSuccess(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("DELETE /apps/v2/sshkey", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	c, _ := newTestClient(t, f)
	g.Expect(c.DeleteSSHKey(context.Background(), "key-1")).To(Succeed())
}

func TestOKWithErrorEnvelope(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/vm", 200, testdata(t, "error_quota.json"))
	c, _ := newTestClient(t, f)
	before := testutil.ToFloat64(requestsTotal.WithLabelValues("ListVMs", "error"))
	beforeErr := testutil.ToFloat64(errorsTotal.WithLabelValues("ListVMs", "Terminal"))
	_, err := c.ListVMs(context.Background(), ListVMsOptions{})
	var e *Error
	g.Expect(errors.As(err, &e)).To(BeTrue())
	g.Expect(e.HTTPStatus).To(Equal(200))
	g.Expect(e.Code).To(Equal(500))
	g.Expect(e.Message).To(Equal("Worker nodes count exceeds the allowed limit 5"))
	g.Expect(IsTerminal(err)).To(BeTrue())
	g.Expect(f.count("GET /api/v2/vm")).To(Equal(1), "terminal errors are not retried")
	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("ListVMs", "error")) - before).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(errorsTotal.WithLabelValues("ListVMs", "Terminal")) - beforeErr).To(Equal(1.0))
}

func TestUnexpectedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		class  ErrorClass
	}{
		{"non-JSON 200 (proxy page)", 200, "<html>login portal</html>", ClassTransient},
		{"JSON 404 from the API", 404, `{"error":true,"message":"Not found"}`, ClassNotFound},
		{"HTML 404 (missing route)", 404, "<html>Cannot GET /x</html>", ClassTerminal},
		{"403 JSON", 403, `{"error":true,"message":"Access denied"}`, ClassTerminal},
		{"400 array body", 400, `[]`, ClassTerminal},
		{"500 JSON not an error envelope", 500, `{"data":null}`, ClassTransient},
		{"error given as a string", 200, `{"error":"Unauthorized"}`, ClassUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeAPI(t)
			f.reply("POST /apps/v2/tags/add", tc.status, tc.body)
			c, _ := newTestClient(t, f)
			err := c.CreateTag(context.Background(), "x", "#fff")
			g.Expect(ClassOf(err)).To(Equal(tc.class), "%v", err)
		})
	}
}

func TestBackoffCeiling(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	c, _ := newTestClient(t, f, func(c *Config) { c.RetryBaseDelay = time.Second; c.RetryMaxDelay = 5 * time.Second })
	c.jitter = func(n int64) int64 { return n - 1 } // the top of the range
	g.Expect(c.backoff(0)).To(Equal(time.Second))
	g.Expect(c.backoff(1)).To(Equal(2 * time.Second))
	g.Expect(c.backoff(2)).To(Equal(4 * time.Second))
	g.Expect(c.backoff(3)).To(Equal(5 * time.Second))
	g.Expect(c.backoff(80)).To(Equal(5 * time.Second))
	c.jitter = randInt63n
	for range 100 {
		g.Expect(c.backoff(1)).To(BeNumerically("<=", 2*time.Second))
	}
}

// A "not found" answer (a delete confirmed, a lookup that missed) is not an API error in the metrics.
func TestNotFoundIsNotCountedAsAnError(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/vm/gone", 200, `{"error":false,"data":false}`)
	c, _ := newTestClient(t, f)
	beforeErr := testutil.ToFloat64(errorsTotal.WithLabelValues("GetVM", string(ClassNotFound)))
	beforeNotFound := testutil.ToFloat64(notFoundTotal.WithLabelValues("GetVM"))
	_, err := c.GetVM(context.Background(), "gone")
	g.Expect(IsNotFound(err)).To(BeTrue(), "%v", err)
	g.Expect(testutil.ToFloat64(errorsTotal.WithLabelValues("GetVM", string(ClassNotFound))) - beforeErr).To(BeZero())
	g.Expect(testutil.ToFloat64(notFoundTotal.WithLabelValues("GetVM")) - beforeNotFound).To(Equal(1.0))
}

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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func tooManyRequests(w http.ResponseWriter, _ *http.Request) {
	writeBody(w, http.StatusTooManyRequests, `{"error":true,"message":"Too many requests"}`)
}

// pacingClients returns two Clients of the same account (so sharing one limiter) at 600
// requests/minute with burst 1, never retrying, with the adaptation on clock.
func pacingClients(t *testing.T, f *fakeAPI, clock *fakeClock) (*Client, *Client) {
	t.Helper()
	mod := func(c *Config) { c.RequestsPerMinute = 600; c.Burst = 1; c.MaxRetries = -1 }
	a, _ := newTestClient(t, f, mod)
	b, _ := newTestClient(t, f, mod)
	if clock != nil {
		setLimiterClock(a, clock.Now)
	}
	return a, b
}

// A 429 without Retry-After slows the whole account down, not just the call that got it: a
// second Client of the same account is paced at the lower rate.
func TestRateLimitedWithoutRetryAfterSlowsTheAccount(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", tooManyRequests)
	f.reply("GET /apps/v2/sshkeys", 200, `{"error":false,"data":[]}`)
	a, b := pacingClients(t, f, nil)
	g.Expect(effectivePerMinute(a)).To(Equal(600.0))
	g.Expect(rateGauge(a)).To(Equal(600.0))

	_, err := a.ListTags(context.Background())
	_, limited := IsRateLimited(err)
	g.Expect(limited).To(BeTrue())
	g.Expect(effectivePerMinute(b)).To(Equal(300.0), "halved for the whole account")
	g.Expect(rateGauge(b)).To(Equal(300.0))

	for range 3 {
		_, err := b.ListSSHKeys(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
	}
	// At 300/min (one per 200ms, burst 1) the 429 and three calls take at least ~600ms; at
	// the configured 600/min they would take ~300ms. Only a lower bound: a slow machine is
	// slower, never faster.
	first := f.requests("GET /apps/v2/tags")[0].At
	last := f.requests("GET /apps/v2/sshkeys")[2].At
	g.Expect(last.Sub(first)).To(BeNumerically(">=", 500*time.Millisecond))
}

// Rate-limit wording in a 200-with-error counts as a 429.
func TestRateLimitWordingSlowsTheAccount(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST /apps/v2/tags/add", 200, `{"error":true,"message":"Rate limit exceeded, slow down"}`)
	a, _ := pacingClients(t, f, nil)
	err := a.CreateTag(context.Background(), "x", "#fff")
	g.Expect(ClassOf(err)).To(Equal(ClassRateLimited))
	g.Expect(effectivePerMinute(a)).To(Equal(300.0))
}

// After a quiet period of successful calls the rate grows back step by step, never above the
// configured rate; the decrease stops at a floor.
func TestPacingRecoversAfterQuietPeriodAndHasAFloor(t *testing.T) {
	g := NewWithT(t)
	clock := newFakeClock()
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", tooManyRequests)
	f.reply("GET /apps/v2/sshkeys", 200, `{"error":false,"data":[]}`)
	mod := func(c *Config) { c.RequestsPerMinute = 6000; c.Burst = 10; c.MaxRetries = -1 }
	c, _ := newTestClient(t, f, mod)
	setLimiterClock(c, clock.Now)
	ctx := context.Background()

	for _, want := range []float64{3000, 1500, 750, 600, 600} {
		clock.Advance(time.Second) // each 429 answers a request sent after the last decrease
		_, _ = c.ListTags(ctx)
		g.Expect(effectivePerMinute(c)).To(Equal(want))
	}
	g.Expect(c.limiter.lim.Burst()).To(Equal(1), "the burst shrinks with the rate")

	clock.Advance(recoveryQuietPeriod - time.Second)
	_, err := c.ListSSHKeys(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(effectivePerMinute(c)).To(Equal(600.0), "not yet quiet long enough")

	clock.Advance(time.Second)
	_, _ = c.ListSSHKeys(ctx)
	g.Expect(effectivePerMinute(c)).To(Equal(1200.0), "one additive step")
	_, _ = c.ListSSHKeys(ctx)
	g.Expect(effectivePerMinute(c)).To(Equal(1200.0), "one step per quiet period")

	for range 20 {
		clock.Advance(recoveryQuietPeriod)
		_, err := c.ListSSHKeys(ctx)
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(effectivePerMinute(c)).To(Equal(6000.0), "back to the configured rate, not above")
	g.Expect(rateGauge(c)).To(Equal(6000.0))
	g.Expect(c.limiter.lim.Burst()).To(Equal(10))

	// A 429 restarts the quiet period.
	_, _ = c.ListTags(ctx)
	g.Expect(effectivePerMinute(c)).To(Equal(3000.0))
	clock.Advance(recoveryQuietPeriod / 2)
	_, _ = c.ListTags(ctx)
	clock.Advance(recoveryQuietPeriod / 2)
	_, _ = c.ListSSHKeys(ctx)
	g.Expect(effectivePerMinute(c)).To(Equal(1500.0), "the second 429 restarted the quiet period")
}

// Answers to requests sent before the last decrease tell about the old rate: a burst of
// concurrent 429s halves the rate once, not once per request.
func TestThrottleIgnoresRequestsSentBeforeTheLastDecrease(t *testing.T) {
	g := NewWithT(t)
	clock := newFakeClock()
	a := newAccountLimiter("test-key-throttle", 600, 10, false)
	a.now = clock.Now
	sent := clock.Now()
	clock.Advance(100 * time.Millisecond)
	a.throttled(sent, 0)
	a.throttled(sent, 0)
	a.throttled(sent.Add(50*time.Millisecond), 0)
	g.Expect(a.perMinute()).To(Equal(300.0))
	a.throttled(clock.Now().Add(time.Millisecond), 0)
	g.Expect(a.perMinute()).To(Equal(150.0))
}

// A Retry-After holds every caller of the account: another Client of the same account gets a
// RateLimited error carrying the remaining wait, without sending anything, until the time is up.
func TestRetryAfterHoldsTheWholeAccount(t *testing.T) {
	g := NewWithT(t)
	clock := newFakeClock()
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		tooManyRequests(w, nil)
	})
	f.reply("GET /apps/v2/sshkeys", 200, `{"error":false,"data":[]}`)
	a, b := pacingClients(t, f, clock)

	_, err := a.ListTags(context.Background())
	d, ok := IsRateLimited(err)
	g.Expect(ok).To(BeTrue())
	g.Expect(d).To(Equal(2 * time.Minute))
	g.Expect(effectivePerMinute(a)).To(Equal(600.0), "told when to come back: no need to slow down")

	clock.Advance(30 * time.Second)
	_, err = b.ListSSHKeys(context.Background())
	d, ok = IsRateLimited(err)
	g.Expect(ok).To(BeTrue(), "%v", err)
	g.Expect(d).To(Equal(90 * time.Second))
	g.Expect(NotSent(err)).To(BeTrue())
	g.Expect(f.count("GET /apps/v2/sshkeys")).To(Equal(0), "held: nothing sent")

	clock.Advance(91 * time.Second)
	_, err = b.ListSSHKeys(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.count("GET /apps/v2/sshkeys")).To(Equal(1))
}

// A short hold is waited out (in real time) by the other callers.
func TestShortRetryAfterHoldIsWaited(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/tags", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		tooManyRequests(w, nil)
	})
	f.reply("GET /apps/v2/sshkeys", 200, `{"error":false,"data":[]}`)
	a, b := pacingClients(t, f, nil)
	_, err := a.ListTags(context.Background())
	g.Expect(ClassOf(err)).To(Equal(ClassRateLimited))
	_, err = b.ListSSHKeys(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	held := f.requests("GET /apps/v2/sshkeys")[0].At.Sub(f.requests("GET /apps/v2/tags")[0].At)
	g.Expect(held).To(BeNumerically(">=", 900*time.Millisecond))

	// A hold longer than the caller's deadline is not waited.
	f.handle("GET /apps/v2/tags", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "20")
		tooManyRequests(w, nil)
	})
	_, _ = a.ListTags(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = b.ListSSHKeys(ctx)
	g.Expect(time.Since(start)).To(BeNumerically("<", 4*time.Second))
	d, _ := IsRateLimited(err)
	g.Expect(d).To(BeNumerically(">", 15*time.Second))

	// A canceled caller stops waiting for the hold.
	f.handle("GET /apps/v2/tags", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "10")
		tooManyRequests(w, nil)
	})
	clearHold(a)
	_, _ = a.ListTags(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	_, err = b.ListSSHKeys(ctx2)
	g.Expect(err).To(MatchError(context.Canceled))
	g.Expect(NotSent(err)).To(BeTrue())
}

// A login that meets a 429 slows the account too.
func TestRateLimitedLoginSlowsTheAccount(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("POST "+loginPath, tooManyRequests)
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret),
		func(c *Config) { c.RequestsPerMinute = 600 })
	_, err := c.ListTags(context.Background())
	g.Expect(ClassOf(err)).To(Equal(ClassRateLimited), "%v", err)
	g.Expect(effectivePerMinute(c)).To(Equal(300.0))
}

func TestRateGaugeIsRegistered(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewPedanticRegistry()
	g.Expect(RegisterMetrics(reg)).To(Succeed())
	f := newFakeAPI(t)
	c, _ := newTestClient(t, f, func(c *Config) { c.RequestsPerMinute = 90 })
	mfs, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var found bool
	for _, mf := range mfs {
		if mf.GetName() != "capvpsie_vpsie_api_rate_limit_requests_per_minute" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == c.limiter.account {
				found = true
				g.Expect(m.GetGauge().GetValue()).To(Equal(90.0))
			}
		}
	}
	g.Expect(found).To(BeTrue())
	g.Expect(c.limiter.account).To(HaveLen(12))
	g.Expect(c.limiter.account).NotTo(ContainSubstring(testToken))
	lint, err := testutil.CollectAndLint(rateLimitRequestsPerMinute)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lint).To(BeEmpty())
}

// A restarted manager starts with no burst: the account spent its budget in the previous process too. Without
// StartWithoutBurst a new process had its whole burst at once (the chaos scenario counted 101 requests in a
// 100-request window with restarts in it).
func TestRestartedProcessStartsWithoutBurst(t *testing.T) {
	g := NewWithT(t)
	warm := newAccountLimiter("test-key-warm", 600, 10, false)
	g.Expect(warm.lim.Tokens()).To(BeNumerically("~", 10, 0.5), "the default: a full bucket")
	cold := newAccountLimiter("test-key-cold", 600, 10, true)
	g.Expect(cold.lim.Tokens()).To(BeNumerically("<", 1), "an empty bucket: the first call waits for the rate")
	g.Expect(cold.lim.TokensAt(time.Now().Add(500*time.Millisecond))).To(BeNumerically("~", 5, 1),
		"and fills at the rate (10/s), not at once")
}

// Requests sent as fast as the account's limiter lets them never number more than the per-minute rate in any
// minute (a token bucket alone sends its burst on top: 110 in the first minute at 100/min with a burst of 10),
// and still go at the budget's rate: 250 take about two and a half minutes, not more.
func TestLimiterNeverSpendsMoreThanTheBudgetInAMinute(t *testing.T) {
	g := NewWithT(t)
	a := newAccountLimiter("window-test", 100, 10, false)
	start := time.Now()
	at := start
	var sends []time.Time
	for range 250 {
		r, ok := a.reserve(at)
		g.Expect(ok).To(BeTrue())
		at = r.at
		sends = append(sends, at)
	}
	for i, s := range sends {
		inMinute := 0
		for _, o := range sends[:i+1] {
			if s.Sub(o) < time.Minute {
				inMinute++
			}
		}
		g.Expect(inMinute).To(BeNumerically("<=", 100), "request %d: %d in the minute before it", i, inMinute)
	}
	g.Expect(sends[249].Sub(start)).To(BeNumerically("<", 160*time.Second), "the budget is spent, not wasted")

	// A place given back is free for the next request.
	next, _ := a.reserve(at)
	next.cancel()
	again, _ := a.reserve(at)
	g.Expect(again.at).To(Equal(next.at))
}

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
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// VPSie publishes no rate limits; its own autoscaler throttles itself to 100 requests a minute
// per account. The budget belongs to the account, not to a Client: the provider builds one
// Client per cluster (per credentials Secret) and may rebuild it when the Secret changes, so
// every Client using the same base URL and credential identity shares one accountLimiter from
// this registry. Keys are SHA-256 digests: no secret is ever held here in clear.
var limiters = struct {
	sync.Mutex
	m map[string]*accountLimiter
}{m: map[string]*accountLimiter{}}

// Adaptive pacing. The configured rate is only a guess at VPSie's real limit, which is not
// documented and may be lower (or shared with other tools on the account). A 429 is the only
// signal, and it concerns the account, not the one call that got it:
//
//   - A 429 (or rate-limit wording) with a Retry-After holds every caller of the account until
//     then: the server said when it will serve again, so anything sent before is wasted.
//   - Without a usable Retry-After, the account's rate is halved (multiplicative decrease), down
//     to minRateFraction of the configured rate, and the burst shrinks with it. Answers to
//     requests sent before the last decrease do not decrease again: they tell about the old rate.
//   - The rate recovers additively, by recoveryStep of the configured rate for every
//     recoveryQuietPeriod without a 429, driven by successful calls, up to the configured rate.
const (
	minRateFraction     = 0.1
	recoveryStep        = 0.1
	recoveryQuietPeriod = 30 * time.Second
	// maxHold caps a Retry-After hold on the whole account, so that a bogus header (or an
	// HTTP date read with a skewed clock) cannot silence an account for hours; the error
	// returned to the caller still carries the full Retry-After.
	maxHold = 5 * time.Minute
	// budgetWindow is the span in which at most the per-minute rate of requests go: a minute,
	// and a second for the clocks and the network between the provider and VPSie. A token
	// bucket alone lets a full burst go on top of a minute's rate (110 in the first minute at
	// 100/min with a burst of 10): the 429s VPSie answers to an account that spends its
	// budget evenly, whether it counts in fixed or sliding minutes.
	budgetWindow = 61 * time.Second
)

// accountLimiter is one account's request budget: a token bucket whose rate adapts to 429s,
// and a "not before" time set from Retry-After. It is safe for concurrent use.
type accountLimiter struct {
	lim     *rate.Limiter
	account string           // metric label: a prefix of the registry key (a digest), never a credential
	now     func() time.Time // clock of the adaptation (tests inject one); the bucket waits in real time

	mu           sync.Mutex
	configured   float64 // requests per second, as configured
	burst        int     // burst, as configured
	current      float64 // requests per second now
	lastDecrease time.Time
	lastChange   time.Time // last 429 or increase: the quiet period is measured from here
	notBefore    time.Time
	sends        []*time.Time // when the latest requests go (or went), in order; see budgetWindow
}

func newAccountLimiter(key string, perMinute float64, burst int, startEmpty bool) *accountLimiter {
	a := &accountLimiter{
		lim:        rate.NewLimiter(rate.Limit(perMinute/60), burst),
		account:    key[:min(len(key), 12)],
		now:        time.Now,
		configured: perMinute / 60,
		burst:      burst,
		current:    perMinute / 60,
	}
	if startEmpty {
		a.lim.ReserveN(time.Now(), burst)
	}
	rateLimitRequestsPerMinute.WithLabelValues(a.account).Set(perMinute)
	return a
}

// limiterKey identifies an account: base URL plus the credential identity (the client id, or
// the static token), hashed.
func limiterKey(baseURL, identity string) string {
	sum := sha256.Sum256([]byte(baseURL + "\x00" + identity))
	return hex.EncodeToString(sum[:])
}

// sharedLimiter returns the limiter for key, creating it with perMinute/burst on first use.
// Later Clients with the same key share it as it is: the first configuration wins, so a
// differently configured Client cannot silently raise an account's budget.
func sharedLimiter(key string, perMinute float64, burst int, startEmpty bool) *accountLimiter {
	limiters.Lock()
	defer limiters.Unlock()
	if l, ok := limiters.m[key]; ok {
		return l
	}
	l := newAccountLimiter(key, perMinute, burst, startEmpty)
	limiters.m[key] = l
	return l
}

// perMinute returns the effective rate, in requests per minute.
func (a *accountLimiter) perMinute() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.current * 60
}

// holdRemaining returns how long the account is held by a Retry-After, or 0.
func (a *accountLimiter) holdRemaining() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.notBefore.Sub(a.now()); d > 0 {
		return d
	}
	return 0
}

// throttled records a rate-limit answer to a request sent at sentAt (on a.now's clock).
func (a *accountLimiter) throttled(sentAt time.Time, retryAfter time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.lastChange = now
	if retryAfter > 0 {
		if until := now.Add(min(retryAfter, maxHold)); until.After(a.notBefore) {
			a.notBefore = until
		}
		return
	}
	if !a.lastDecrease.IsZero() && !sentAt.After(a.lastDecrease) {
		return // sent at the old rate: already accounted for
	}
	a.lastDecrease = now
	a.setRate(max(a.current/2, a.configured*minRateFraction))
}

// succeeded records a successful answer: after a quiet period the rate grows back by a step.
func (a *accountLimiter) succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.current >= a.configured {
		return
	}
	now := a.now()
	if now.Sub(a.lastChange) < recoveryQuietPeriod {
		return
	}
	a.lastChange = now
	a.setRate(min(a.current+a.configured*recoveryStep, a.configured))
}

// setRate applies a new rate to the bucket, scaling the burst with it (a full burst at a
// reduced rate would be the very spike that got us throttled). Called with a.mu held.
func (a *accountLimiter) setRate(perSecond float64) {
	a.current = perSecond
	a.lim.SetLimit(rate.Limit(perSecond))
	a.lim.SetBurst(max(1, int(float64(a.burst)*perSecond/a.configured)))
	rateLimitRequestsPerMinute.WithLabelValues(a.account).Set(perSecond * 60)
}

// observe feeds the adaptation with the outcome of one request sent at sentAt: a success, or
// an API answer (not a client-side refusal) classified RateLimited.
func (a *accountLimiter) observe(sentAt time.Time, apiErr *Error) {
	switch {
	case apiErr == nil:
		a.succeeded()
	case apiErr.Class == ClassRateLimited && apiErr.HTTPStatus != 0:
		a.throttled(sentAt, apiErr.RetryAfter)
	}
}

// waitForBudget takes one request from the account's budget, waiting (in real time) if needed:
// first for a Retry-After hold on the account (unless honourHold is false: the caller has just
// waited out the Retry-After it was given itself), then for the token bucket. A wait longer
// than MaxWait or past the context's deadline is not started: the caller gets a RateLimited
// error carrying the wait, so a controller can requeue instead of blocking a worker.
func (c *Client) waitForBudget(ctx context.Context, op string, honourHold bool) error {
	if d := c.limiter.holdRemaining(); honourHold && d > 0 {
		if d > c.maxWait || exceedsDeadline(ctx, time.Now(), d) {
			return &Error{Operation: op, Class: ClassRateLimited, RetryAfter: d,
				Message: "VPSie asked this account to wait (Retry-After); not sending"}
		}
		c.log.V(2).Info("waiting for a VPSie Retry-After on the account", "operation", op, "wait", d)
		rateLimitWaitSeconds.WithLabelValues("retry_after").Add(d.Seconds())
		if err := sleepCtx(ctx, d); err != nil {
			return contextError(op, err, nil)
		}
	}
	now := time.Now()
	r, ok := c.limiter.reserve(now)
	if !ok {
		return &Error{Operation: op, Class: ClassRateLimited, Message: "client-side rate limit cannot serve a request"}
	}
	d := r.at.Sub(now)
	if d <= 0 {
		return nil
	}
	if d > c.maxWait || exceedsDeadline(ctx, now, d) {
		r.cancel()
		return &Error{Operation: op, Class: ClassRateLimited, RetryAfter: d,
			Message: "client-side request budget exhausted"}
	}
	c.log.V(2).Info("waiting for VPSie API request budget", "operation", op, "wait", d)
	rateLimitWaitSeconds.WithLabelValues("limiter").Add(d.Seconds())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.cancel()
		return contextError(op, ctx.Err(), nil)
	}
}

// reservation is one request's place in the account's budget: when it may go.
type reservation struct {
	at     time.Time
	cancel func() // gives the place back, for a request that will not go
}

// reserve takes a place for one request wanted at now: the token bucket's time, or later when
// the requests of the last budgetWindow already number the per-minute rate (never more than a
// minute's rate in a minute, however the bucket's burst and rate add up).
func (a *accountLimiter) reserve(now time.Time) (reservation, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.lim.ReserveN(now, 1)
	if !r.OK() {
		return reservation{}, false
	}
	at := now.Add(r.DelayFrom(now))
	for len(a.sends) > 0 && !a.sends[0].Add(budgetWindow).After(now) {
		a.sends = a.sends[1:] // out of every window from now on
	}
	perWindow := max(1, int(a.current*60))
	if n := len(a.sends); n >= perWindow {
		at = maxTime(at, a.sends[n-perWindow].Add(budgetWindow))
	}
	if n := len(a.sends); n > 0 {
		at = maxTime(at, *a.sends[n-1]) // in order, so the window test above reads the right one
	}
	place := &at
	a.sends = append(a.sends, place)
	return reservation{at: at, cancel: func() {
		r.CancelAt(now)
		a.mu.Lock()
		defer a.mu.Unlock()
		for i, p := range a.sends {
			if p == place {
				a.sends = append(a.sends[:i], a.sends[i+1:]...)
				return
			}
		}
	}}, true
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// exceedsDeadline reports whether waiting d from now would end after ctx's deadline.
func exceedsDeadline(ctx context.Context, now time.Time, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && now.Add(d).After(deadline)
}

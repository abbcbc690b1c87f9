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
// every Client using the same base URL and credential identity shares one limiter from this
// registry. Keys are SHA-256 digests: no secret is ever held here in clear.
var limiters = struct {
	sync.Mutex
	m map[string]*rate.Limiter
}{m: map[string]*rate.Limiter{}}

// limiterKey identifies an account: base URL plus the credential identity (the client id, or
// the static token), hashed.
func limiterKey(baseURL, identity string) string {
	sum := sha256.Sum256([]byte(baseURL + "\x00" + identity))
	return hex.EncodeToString(sum[:])
}

// sharedLimiter returns the limiter for key, creating it with perMinute/burst on first use.
// Later Clients with the same key share it as it is: the first configuration wins, so a
// differently configured Client cannot silently raise an account's budget.
func sharedLimiter(key string, perMinute float64, burst int) *rate.Limiter {
	limiters.Lock()
	defer limiters.Unlock()
	if l, ok := limiters.m[key]; ok {
		return l
	}
	l := rate.NewLimiter(rate.Limit(perMinute/60), burst)
	limiters.m[key] = l
	return l
}

// waitForBudget takes one request from the shared budget, waiting (in real time) if needed.
// A wait longer than MaxWait or past the context's deadline is not started: the reservation is
// returned and the caller gets a RateLimited error carrying the wait, so a controller can
// requeue instead of blocking a worker.
func (c *Client) waitForBudget(ctx context.Context, op string) error {
	r := c.limiter.Reserve()
	if !r.OK() {
		return &Error{Operation: op, Class: ClassRateLimited, Message: "client-side rate limit cannot serve a request"}
	}
	d := r.Delay()
	if d <= 0 {
		return nil
	}
	if d > c.maxWait || exceedsDeadline(ctx, time.Now(), d) {
		r.Cancel()
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
		r.Cancel()
		return contextError(op, ctx.Err(), nil)
	}
}

// exceedsDeadline reports whether waiting d from now would end after ctx's deadline.
func exceedsDeadline(ctx context.Context, now time.Time, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && now.Add(d).After(deadline)
}

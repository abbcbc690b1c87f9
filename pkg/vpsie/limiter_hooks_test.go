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
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Hooks into the shared account limiter, kept in one place so that the pacing tests read as
// behaviour: set the clock of the adaptation (before any call), read the effective rate.

func setLimiterClock(c *Client, now func() time.Time) {
	c.limiter.mu.Lock()
	defer c.limiter.mu.Unlock()
	c.limiter.now = now
}

func effectivePerMinute(c *Client) float64 { return c.limiter.perMinute() }

func rateGauge(c *Client) float64 {
	return testutil.ToFloat64(rateLimitRequestsPerMinute.WithLabelValues(c.limiter.account))
}

func clearHold(c *Client) {
	c.limiter.mu.Lock()
	defer c.limiter.mu.Unlock()
	c.limiter.notBefore = time.Time{}
}

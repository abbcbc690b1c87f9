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

package vpsiesim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// Faults are injected misbehaviours. Set them in Options.Faults, with SetFaults, with POST /_sim/faults, or with
// the binary's flags. SetFaults replaces the whole set. In JSON, durations are strings such as "250ms" (a bare
// number is read as nanoseconds).
type Faults struct {
	// RateLimit is a budget of API requests per RateLimitWindow (default window: one minute). Requests beyond it
	// are answered 429 with a Retry-After header (whole seconds until the window ends) and the error envelope.
	// 0 disables rate limiting. The window is fixed: it starts at the first request after the faults were set.
	RateLimit       int           `json:"rateLimit,omitempty"`
	RateLimitWindow time.Duration `json:"rateLimitWindow,omitempty"`

	// HTMLErrorRate is the share (0..1) of requests answered with a gateway's HTML page
	// ("<html>502 Bad Gateway</html>", Content-Type text/html) and HTMLErrorStatus (default 502).
	HTMLErrorRate   float64 `json:"htmlErrorRate,omitempty"`
	HTMLErrorStatus int     `json:"htmlErrorStatus,omitempty"`
	// HTMLErrorNext answers the next N (matching) requests with the HTML page, deterministically.
	HTMLErrorNext int `json:"htmlErrorNext,omitempty"`

	// ErrorOKRate is the share (0..1) of requests answered HTTP 200 with
	// {"error":true,"code":500,"message":"Something went wrong, please try again later","stack":""}.
	ErrorOKRate float64 `json:"errorOKRate,omitempty"`
	// ErrorOKNext answers the next N (matching) requests that way, deterministically.
	ErrorOKNext int `json:"errorOKNext,omitempty"`

	// ProcessBeforeFailing makes the HTML and 200-with-error faults happen after the request took effect (the
	// VM is created, the answer is lost): the case that punishes blind retries of non-idempotent calls.
	ProcessBeforeFailing bool `json:"processBeforeFailing,omitempty"`

	// Latency is added to every (matching) request.
	Latency time.Duration `json:"latency,omitempty"`

	// Routes limits the HTML, 200-with-error and latency faults to these request-count keys
	// ("POST /api/v2/vm", "GET /apps/v2/vm/{identifier}", ...). Empty: every API request.
	Routes []string `json:"routes,omitempty"`

	// NeverBoot lists hostnames whose VMs stay in /vm/pending forever (case-insensitive; a trailing "*" makes
	// the entry a prefix). Evaluated when the boot delay ends. BootNow still boots them.
	NeverBoot []string `json:"neverBoot,omitempty"`

	// VMQuota, when > 0, is the most VMs (pending or not) the account may hold; creates beyond it answer
	// HTTP 200 {"error":true,"code":500,"message":"VM count exceeds the allowed limit N"}.
	VMQuota int `json:"vmQuota,omitempty"`

	// RevokeTokens and ExpireTokens are one-shot actions: applying faults with them set revokes, respectively
	// expires, every token issued by login so far. They are not stored (Faults() reports them false).
	RevokeTokens bool `json:"revokeTokens,omitempty"`
	ExpireTokens bool `json:"expireTokens,omitempty"`
}

type faultsJSON struct {
	faultsAlias
	RateLimitWindow any `json:"rateLimitWindow,omitempty"`
	Latency         any `json:"latency,omitempty"`
}

type faultsAlias Faults

// MarshalJSON writes durations as strings ("250ms").
func (f Faults) MarshalJSON() ([]byte, error) {
	out := faultsJSON{faultsAlias: faultsAlias(f)}
	if f.RateLimitWindow != 0 {
		out.RateLimitWindow = f.RateLimitWindow.String()
	}
	if f.Latency != 0 {
		out.Latency = f.Latency.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads durations as strings ("250ms") or numbers (nanoseconds).
func (f *Faults) UnmarshalJSON(b []byte) error {
	var in struct {
		faultsAlias
		RateLimitWindow json.RawMessage `json:"rateLimitWindow"`
		Latency         json.RawMessage `json:"latency"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*f = Faults(in.faultsAlias)
	var err error
	if f.RateLimitWindow, err = parseDuration(in.RateLimitWindow); err != nil {
		return fmt.Errorf("rateLimitWindow: %w", err)
	}
	if f.Latency, err = parseDuration(in.Latency); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	return nil
}

func parseDuration(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return 0, nil
		}
		return time.ParseDuration(s)
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("%s is not a duration", raw)
	}
	return time.Duration(n), nil
}

func (f Faults) validate() error {
	if f.HTMLErrorRate < 0 || f.HTMLErrorRate > 1 || f.ErrorOKRate < 0 || f.ErrorOKRate > 1 {
		return fmt.Errorf("fault rates must be between 0 and 1")
	}
	if f.HTMLErrorStatus != 0 && (f.HTMLErrorStatus < 500 || f.HTMLErrorStatus > 599) {
		return fmt.Errorf("htmlErrorStatus must be a 5xx status")
	}
	if f.RateLimit < 0 || f.HTMLErrorNext < 0 || f.ErrorOKNext < 0 || f.VMQuota < 0 || f.Latency < 0 || f.RateLimitWindow < 0 {
		return fmt.Errorf("fault counts and durations must not be negative")
	}
	return nil
}

// SetFaults replaces the active faults (and restarts the rate-limit window). It panics on invalid values; the
// admin endpoint answers 400 instead.
func (s *Simulator) SetFaults(f Faults) {
	if err := f.validate(); err != nil {
		panic("vpsiesim: " + err.Error())
	}
	s.applyFaults(f)
}

func (s *Simulator) applyFaults(f Faults) {
	if f.RevokeTokens {
		s.RevokeTokens()
	}
	if f.ExpireTokens {
		s.ExpireTokens()
	}
	f.RevokeTokens, f.ExpireTokens = false, false
	f.Routes = append([]string(nil), f.Routes...)
	f.NeverBoot = append([]string(nil), f.NeverBoot...)
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = f
	s.windowStart, s.windowCount = time.Time{}, 0
}

// Faults returns the active faults (counters such as HTMLErrorNext show what is left).
func (s *Simulator) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	f := s.faults
	f.Routes = append([]string(nil), f.Routes...)
	f.NeverBoot = append([]string(nil), f.NeverBoot...)
	return f
}

type decision struct {
	latency      time.Duration
	retryAfter   int
	htmlStatus   int
	errorOK      bool
	processFirst bool
}

// decide counts the request under key and decides which faults hit it.
func (s *Simulator) decide(key string) decision {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.counts[key]++
	s.total++
	f := &s.faults
	var d decision
	if f.RateLimit > 0 {
		win := f.RateLimitWindow
		if win <= 0 {
			win = time.Minute
		}
		now := time.Now()
		if s.windowStart.IsZero() || now.Sub(s.windowStart) >= win {
			s.windowStart, s.windowCount = now, 0
		}
		if s.windowCount >= f.RateLimit {
			d.retryAfter = max(1, int(math.Ceil(s.windowStart.Add(win).Sub(now).Seconds())))
			return d
		}
		s.windowCount++
	}
	if len(f.Routes) > 0 && !contains(f.Routes, key) {
		return d
	}
	d.latency = f.Latency
	d.processFirst = f.ProcessBeforeFailing
	htmlStatus := f.HTMLErrorStatus
	if htmlStatus == 0 {
		htmlStatus = http.StatusBadGateway
	}
	switch {
	case f.HTMLErrorNext > 0:
		f.HTMLErrorNext--
		d.htmlStatus = htmlStatus
	case f.HTMLErrorRate > 0 && s.rng.Float64() < f.HTMLErrorRate:
		d.htmlStatus = htmlStatus
	case f.ErrorOKNext > 0:
		f.ErrorOKNext--
		d.errorOK = true
	case f.ErrorOKRate > 0 && s.rng.Float64() < f.ErrorOKRate:
		d.errorOK = true
	}
	return d
}

// neverBoots reports whether a hostname matches Faults.NeverBoot.
func (s *Simulator) neverBoots(hostname string) bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	h := strings.ToLower(hostname)
	for _, p := range s.faults.NeverBoot {
		p = strings.ToLower(p)
		if strings.HasSuffix(p, "*") && strings.HasPrefix(h, strings.TrimSuffix(p, "*")) || p == h {
			return true
		}
	}
	return false
}

func (s *Simulator) vmQuota() int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults.VMQuota
}

// RequestCount returns how many API requests were counted under key, "METHOD route-pattern" as registered
// (e.g. "GET /api/v2/vm", "GET /apps/v2/vm/{identifier}"), or "UNMATCHED" for requests no route matched.
func (s *Simulator) RequestCount(key string) int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.counts[key]
}

// Requests returns a copy of all request counts by key.
func (s *Simulator) Requests() map[string]int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// TotalRequests returns the number of API requests counted (admin requests are not counted).
func (s *Simulator) TotalRequests() int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.total
}

// ResetCounters zeroes the request counts.
func (s *Simulator) ResetCounters() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.counts = map[string]int{}
	s.total = 0
}

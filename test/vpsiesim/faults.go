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

	// The hostile modes below reproduce what a real, eventually consistent API does to a client that trusts
	// one read. Time-based ones are stamped on the object when the event happens (boot, delete, create, attach),
	// so changing them later affects later events only.

	// ListGap hides a VM that just left /vm/pending from every view for this long: it is in neither the
	// pending queue nor GET /vm, and GET /vm/{identifier} (like every call naming it) answers as for a VM that
	// does not exist yet.
	ListGap time.Duration `json:"listGap,omitempty"`
	// ListLag makes the lists (GET /vm, GET /api/v1/lb/all, GET /apps/v2/vpc, GET /apps/v2/firewall/groups)
	// show membership as it was this long ago: a new object is listed ListLag after it appeared (for VMs: after ListGap), a deleted or vanished
	// one stays listed, as it was last seen, for ListLag after it went. Gets by id tell the truth.
	ListLag time.Duration `json:"listLag,omitempty"`
	// PageCap, when > 0, is the most items one page of a paged list holds whatever limit asks (total still
	// counts everything): a client that stops at the first short page misses items.
	PageCap int `json:"pageCap,omitempty"`
	// AsyncVPCAttach makes POST /vm/add/vpc answer success at once while the VM joins the VPC (gets its
	// private IP) only after this delay.
	AsyncVPCAttach time.Duration `json:"asyncVPCAttach,omitempty"`
	// AlreadyAttachedError answers an attach to the VPC the VM is already in (or joining) HTTP 200
	// {"error":true,"code":400,"message":"VM is already attached to this VPC"} instead of a plain 400.
	AlreadyAttachedError bool `json:"alreadyAttachedError,omitempty"`
	// PendingLag keeps a created VM or load balancer out of its pending queue (and of every list) for this
	// long after the create call; its pending time (BootDelay, LBPendingDelay) starts after it.
	PendingLag time.Duration `json:"pendingLag,omitempty"`
	// RateLimitNoRetryAfter sends the RateLimit fault's 429 without a Retry-After header.
	RateLimitNoRetryAfter bool `json:"rateLimitNoRetryAfter,omitempty"`
	// MissingRoutes are request-count keys answered as if the route did not exist on this account's API:
	// HTTP 404 {"error":true,"code":404,"message":"Not found","stack":""}, exactly like an unmatched route.
	MissingRoutes []string `json:"missingRoutes,omitempty"`
	// LostAnswerRate is the share (0..1) of mutating requests (POST/PUT/DELETE, except login and the read-only
	// POSTs /apps/v2/resources and /api/v1/lb/offers) that are fully processed and then lose their answer: the
	// connection is closed without a response. LostAnswerNext does that to the next N, deterministically.
	LostAnswerRate float64 `json:"lostAnswerRate,omitempty"`
	LostAnswerNext int     `json:"lostAnswerNext,omitempty"`
	// BootListedUnpowered makes a VM that leaves the pending queue show for this long with power 0 and no
	// addresses (is_active 1, State VMBooting) before it powers on with them; OnVMBoot fires then.
	BootListedUnpowered time.Duration `json:"bootListedUnpowered,omitempty"`
	// VPCOmitNetworkSize leaves network_size out of VPC objects (GET /apps/v2/vpc, GET /apps/v2/vpc/{id}) and
	// sends network_range as the create gave it.
	VPCOmitNetworkSize bool `json:"vpcOmitNetworkSize,omitempty"`
	// VPCNumbersAsStrings sends the numeric fields of VPC objects (id, datacenter_id, is_default, vms_count;
	// network_size is always a string) as JSON strings.
	VPCNumbersAsStrings bool `json:"vpcNumbersAsStrings,omitempty"`
}

type faultsAlias Faults

// durationFields lists the duration fields by JSON name, so that encoding, decoding and validation treat them
// all alike.
func (f *Faults) durationFields() []struct {
	name string
	d    *time.Duration
} {
	return []struct {
		name string
		d    *time.Duration
	}{
		{"rateLimitWindow", &f.RateLimitWindow}, {"latency", &f.Latency}, {"listGap", &f.ListGap},
		{"listLag", &f.ListLag}, {"asyncVPCAttach", &f.AsyncVPCAttach}, {"pendingLag", &f.PendingLag},
		{"bootListedUnpowered", &f.BootListedUnpowered},
	}
}

// MarshalJSON writes durations as strings ("250ms").
func (f Faults) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(faultsAlias(f))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, df := range f.durationFields() {
		if *df.d != 0 {
			m[df.name], _ = json.Marshal(df.d.String())
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads durations as strings ("250ms") or numbers (nanoseconds).
func (f *Faults) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	var out Faults
	durs := map[string]time.Duration{}
	for _, df := range out.durationFields() {
		raw, ok := m[df.name]
		if !ok {
			continue
		}
		d, err := parseDuration(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", df.name, err)
		}
		durs[df.name] = d
		delete(m, df.name) // the alias would refuse a string in an int64 field
	}
	rest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(rest, (*faultsAlias)(&out)); err != nil {
		return err
	}
	for _, df := range out.durationFields() {
		if d, ok := durs[df.name]; ok {
			*df.d = d
		}
	}
	*f = out
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
	if f.LostAnswerRate < 0 || f.LostAnswerRate > 1 {
		return fmt.Errorf("lostAnswerRate must be between 0 and 1")
	}
	if f.RateLimit < 0 || f.HTMLErrorNext < 0 || f.ErrorOKNext < 0 || f.VMQuota < 0 || f.PageCap < 0 || f.LostAnswerNext < 0 {
		return fmt.Errorf("fault counts and durations must not be negative")
	}
	for _, df := range f.durationFields() {
		if *df.d < 0 {
			return fmt.Errorf("fault counts and durations must not be negative (%s)", df.name)
		}
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
	f.MissingRoutes = append([]string(nil), f.MissingRoutes...)
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
	f.MissingRoutes = append([]string(nil), f.MissingRoutes...)
	return f
}

// modes returns the active faults for reading inside the simulator. Its slices are shared with the stored
// faults, which is safe because they are only ever replaced whole (applyFaults), never changed in place.
// Callers may hold s.mu (the lock order is s.mu, then s.fmu).
func (s *Simulator) modes() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults
}

type decision struct {
	latency      time.Duration
	retryAfter   int
	noRetryAfter bool
	missing      bool
	htmlStatus   int
	errorOK      bool
	lostAnswer   bool
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
			d.noRetryAfter = f.RateLimitNoRetryAfter
			return d
		}
		s.windowCount++
	}
	d.missing = contains(f.MissingRoutes, key)
	if len(f.Routes) > 0 && !contains(f.Routes, key) {
		return d
	}
	mutating := !d.missing && isMutating(key)
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
	case mutating && f.LostAnswerNext > 0:
		f.LostAnswerNext--
		d.lostAnswer = true
	case mutating && f.LostAnswerRate > 0 && s.rng.Float64() < f.LostAnswerRate:
		d.lostAnswer = true
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

// ResetCounters zeroes the request counts and the counts of faults injected.
func (s *Simulator) ResetCounters() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.counts = map[string]int{}
	s.total = 0
	s.injected = map[string]int{}
}

// Kinds of injected faults, the keys of FaultsInjected (named after the Faults fields that cause them).
const (
	FaultRateLimit    = "rateLimit"    // answered 429
	FaultHTMLError    = "htmlError"    // answered with the gateway's HTML page
	FaultErrorOK      = "errorOK"      // answered HTTP 200 "error":true
	FaultLostAnswer   = "lostAnswer"   // processed, then the connection closed without an answer
	FaultMissingRoute = "missingRoute" // answered as a route that does not exist
)

// FaultsInjected returns how many requests were answered with each kind of fault since the counters were
// last reset. A fault that was drawn but not served (e.g. a 200-with-error for a request answered 401) is not
// counted.
func (s *Simulator) FaultsInjected() map[string]int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	out := make(map[string]int, len(s.injected))
	for k, v := range s.injected {
		out[k] = v
	}
	return out
}

func (s *Simulator) countFault(kind string) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.injected[kind]++
}

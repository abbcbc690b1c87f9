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
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LBState is the simulator's lifecycle state of a load balancer.
type LBState string

// Load balancer states.
const (
	LBPending LBState = "pending" // in /api/v2/lbs/pending, not in /api/v1/lb/all
	LBActive  LBState = "active"
)

// LoadBalancer is the simulator's record of a load balancer.
type LoadBalancer struct {
	ID             int       `json:"id"`
	PendingID      int       `json:"pendingId"`
	Identifier     string    `json:"identifier"`
	Name           string    `json:"lbName"`
	State          LBState   `json:"state"`
	DCIdentifier   string    `json:"dcIdentifier"`
	PlanIdentifier string    `json:"planIdentifier"`
	Algorithm      string    `json:"algorithm"`
	IP             string    `json:"ip,omitempty"`
	RedirectHTTP   bool      `json:"redirectHTTP"`
	CookieCheck    bool      `json:"cookieCheck"`
	CookieName     string    `json:"cookieName,omitempty"`
	Rules          []LBRule  `json:"rules"`
	Tags           []string  `json:"tags"`
	CreatedAt      time.Time `json:"createdAt"`
	// QueuedAt is when it shows in /api/v2/lbs/pending (CreatedAt + Faults.PendingLag).
	QueuedAt time.Time `json:"queuedAt,omitzero"`
	ReadyAt  time.Time `json:"readyAt,omitzero"`
	// ListedAt is when /api/v1/lb/all lists it (ReadyAt + Faults.ListLag).
	ListedAt      time.Time `json:"listedAt,omitzero"`
	createRequest []byte
}

// LBRule forwards FrontPort to BackPort on every backend.
type LBRule struct {
	RuleID    string      `json:"ruleId"`
	Scheme    string      `json:"scheme"`
	FrontPort int         `json:"frontPort"`
	BackPort  int         `json:"backPort"`
	Backends  []LBBackend `json:"backends"`
}

// LBBackend is one target of a rule.
type LBBackend struct {
	Identifier   string `json:"identifier"`
	IP           string `json:"ip"`
	VMIdentifier string `json:"vmIdentifier"`
}

func (lb *LoadBalancer) clone() LoadBalancer {
	c := *lb
	c.Tags = slices.Clone(lb.Tags)
	c.Rules = make([]LBRule, len(lb.Rules))
	for i, r := range lb.Rules {
		r.Backends = slices.Clone(r.Backends)
		c.Rules[i] = r
	}
	c.createRequest = nil
	return c
}

type lbBackendIn struct {
	IP           string `json:"ip"`
	VMIdentifier string `json:"vmIdentifier"`
}

type lbRuleIn struct {
	RuleID    string        `json:"ruleId"`
	Scheme    string        `json:"scheme"`
	FrontPort flexInt       `json:"frontPort"`
	BackPort  flexInt       `json:"backPort"`
	Backends  []lbBackendIn `json:"backends"`
}

type createLBRequest struct {
	LBName             string     `json:"lbName"`
	Algorithm          string     `json:"algorithm"`
	ResourceIdentifier string     `json:"resourceIdentifier"`
	DCIdentifier       string     `json:"dcIdentifier"`
	RedirectHTTP       flag       `json:"redirectHTTP"`
	CookieCheck        flag       `json:"cookieCheck"`
	CookieName         string     `json:"cookieName"`
	Rules              []lbRuleIn `json:"rules"`
}

var lbAlgorithms = []string{"roundrobin", "leastconn", "source"}

// validateRule checks a rule (ports as strings or numbers, scheme tcp/http/https, backend IPs) and builds it.
func validateRule(in lbRuleIn) (LBRule, string) {
	scheme := strings.ToLower(in.Scheme)
	if !contains([]string{"tcp", "http", "https"}, scheme) {
		return LBRule{}, "rule scheme must be one of tcp, http, https"
	}
	if in.FrontPort.Value < 1 || in.FrontPort.Value > 65535 || in.BackPort.Value < 1 || in.BackPort.Value > 65535 {
		return LBRule{}, "rule ports must be between 1 and 65535"
	}
	out := LBRule{Scheme: scheme, FrontPort: in.FrontPort.Value, BackPort: in.BackPort.Value, Backends: []LBBackend{}}
	for _, b := range in.Backends {
		if _, err := netip.ParseAddr(b.IP); err != nil {
			return LBRule{}, fmt.Sprintf("Invalid backend ip %q", b.IP)
		}
		out.Backends = append(out.Backends, LBBackend{Identifier: newUUID(), IP: b.IP, VMIdentifier: b.VMIdentifier})
	}
	return out, ""
}

// handleCreateLB serves POST /api/v1/lb/create. It answers data:true and no id: the load balancer sits in
// /api/v2/lbs/pending for LBPendingDelay (after Faults.PendingLag, when it is nowhere), then is listed by
// /api/v1/lb/all (find it by lbName).
func (s *Simulator) handleCreateLB(w http.ResponseWriter, r *http.Request) {
	var in createLBRequest
	raw, ok := decodeBody(w, r, &in)
	if !ok {
		return
	}
	lb, msg := s.buildLB(in)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	lb.createRequest = raw
	s.mu.Lock()
	lag := s.modes().PendingLag
	lb.QueuedAt = lb.CreatedAt.Add(lag)
	lb.PendingID = s.nextID("lbpending", 8000)
	s.lbs[lb.Identifier] = lb
	s.lbOrder = append(s.lbOrder, lb.Identifier)
	s.registerTagsLocked(lb.Tags)
	if s.opts.LBPendingDelay < 0 && lag == 0 {
		s.activateLBLocked(lb)
	} else {
		id := lb.Identifier
		s.scheduleLocked("lb:"+id, lag+max(s.opts.LBPendingDelay, 0), func() { s.lbFromTimer(id) })
	}
	s.mu.Unlock()
	writeBool(w, true)
}

func (s *Simulator) buildLB(in createLBRequest) (*LoadBalancer, string) {
	if strings.TrimSpace(in.LBName) == "" {
		return nil, "lbName is required"
	}
	dc, ok := s.catalog.datacenterByID(in.DCIdentifier)
	if !ok || dc.Disabled {
		return nil, "Invalid dcIdentifier: datacenter not found"
	}
	if dc.NoLoadBalancers {
		return nil, "Load balancers are not available in this datacenter"
	}
	plan, ok := s.catalog.lbPlanByID(in.ResourceIdentifier)
	if !ok || !plan.availableIn(dc) {
		return nil, "Invalid resourceIdentifier: load balancer plan not found"
	}
	algo := strings.ToLower(in.Algorithm)
	if algo == "" {
		algo = "roundrobin"
	}
	if !contains(lbAlgorithms, algo) {
		return nil, "algorithm must be one of " + strings.Join(lbAlgorithms, ", ")
	}
	if len(in.Rules) == 0 {
		return nil, "at least one rule is required"
	}
	now := time.Now()
	lb := &LoadBalancer{Identifier: newUUID(), Name: in.LBName, State: LBPending, DCIdentifier: dc.Identifier,
		PlanIdentifier: plan.Identifier, Algorithm: algo, RedirectHTTP: in.RedirectHTTP.Value,
		CookieCheck: in.CookieCheck.Value, CookieName: in.CookieName, Tags: []string{}, CreatedAt: now}
	for _, ri := range in.Rules {
		rule, msg := validateRule(ri)
		if msg != "" {
			return nil, msg
		}
		rule.RuleID = newUUID()
		lb.Rules = append(lb.Rules, rule)
	}
	return lb, ""
}

func (s *Simulator) activateLBLocked(lb *LoadBalancer) {
	lb.ID = s.nextID("lb", 600)
	lb.State, lb.ReadyAt = LBActive, time.Now()
	lb.ListedAt = lb.ReadyAt.Add(s.modes().ListLag)
	lb.IP = s.allocLocked("public4", publicIPv4Base)
}

func (s *Simulator) lbFromTimer(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	delete(s.timers, "lb:"+id)
	if lb := s.lbs[id]; lb != nil && lb.State == LBPending {
		s.activateLBLocked(lb)
	}
}

func (s *Simulator) lbJSON(lb *LoadBalancer, withRules bool) map[string]any {
	dc, _ := s.catalog.datacenterByID(lb.DCIdentifier)
	out := map[string]any{
		"id": lb.ID, "identifier": lb.Identifier, "lbName": lb.Name, "default_ip": lb.IP, "dc_name": dc.Name,
		"dcIdentifier": lb.DCIdentifier, "created_on": apiTime(lb.CreatedAt), "algorithm": lb.Algorithm,
		"resourceIdentifier": lb.PlanIdentifier, "redirectHTTP": b2i(lb.RedirectHTTP),
		"cookieCheck": b2i(lb.CookieCheck), "cookieName": lb.CookieName, "tags": slices.Clone(lb.Tags),
	}
	if withRules {
		var rules []map[string]any
		for _, r := range lb.Rules {
			var backends []map[string]any
			for _, b := range r.Backends {
				backends = append(backends, map[string]any{"identifier": b.Identifier, "ip": b.IP, "vmIdentifier": b.VMIdentifier})
			}
			rules = append(rules, map[string]any{"ruleId": r.RuleID, "scheme": r.Scheme,
				"frontPort": strconv.Itoa(r.FrontPort), "backPort": strconv.Itoa(r.BackPort), "backends": orEmpty(backends)})
		}
		out["rules"] = orEmpty(rules)
	}
	return out
}

func (s *Simulator) sortedLBsLocked() []*LoadBalancer {
	out := make([]*LoadBalancer, 0, len(s.lbOrder))
	for _, id := range s.lbOrder {
		if lb := s.lbs[id]; lb != nil {
			out = append(out, lb)
		}
	}
	return out
}

// handleListLBs serves GET /api/v1/lb/all (active load balancers, without rules; ?offset=&limit=), lagging by
// Faults.ListLag.
func (s *Simulator) handleListLBs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := s.listedLBsLocked(time.Now())
	s.mu.Unlock()
	lo, hi := s.page(r, len(out))
	writeList(w, out[lo:hi], len(out))
}

// handleGetLB serves GET /api/v1/lb/{id}, id being the identifier. Unknown or pending: 404.
func (s *Simulator) handleGetLB(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	lb := s.lbs[r.PathValue("id")]
	var out map[string]any
	if lb != nil && lb.State == LBActive {
		out = s.lbJSON(lb, true)
	}
	s.mu.Unlock()
	if out == nil {
		writeError(w, http.StatusNotFound, msgLBNotFound)
		return
	}
	writeObject(w, out)
}

// handlePendingLBs serves GET /api/v2/lbs/pending (load balancers past Faults.PendingLag, not active yet).
func (s *Simulator) handlePendingLBs(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	var out []map[string]any
	for _, lb := range s.sortedLBsLocked() {
		if lb.State == LBPending && !now.Before(lb.QueuedAt) {
			out = append(out, map[string]any{"id": lb.PendingID, "user_id": simUserID, "data": json.RawMessage(lb.createRequest),
				"running": 1, "type": "lb", "created_on": apiTime(lb.CreatedAt)})
		}
	}
	s.mu.Unlock()
	writeList(w, out, len(out))
}

// handleUpdateRule serves POST /api/v1/lb/rule/update {ruleId, scheme, frontPort, backPort, backends}: the
// rule's scheme and ports are set and its backends replaced (new backends get new identifiers).
func (s *Simulator) handleUpdateRule(w http.ResponseWriter, r *http.Request) {
	var in lbRuleIn
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if in.RuleID == "" {
		writeError(w, http.StatusBadRequest, "ruleId is required")
		return
	}
	s.mu.Lock()
	rule := s.ruleLocked(in.RuleID)
	if rule == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Rule not found")
		return
	}
	if in.Scheme == "" {
		in.Scheme = rule.Scheme
	}
	if !in.FrontPort.Set {
		in.FrontPort.Value = rule.FrontPort
	}
	if !in.BackPort.Set {
		in.BackPort.Value = rule.BackPort
	}
	nr, msg := validateRule(in)
	if msg == "" {
		nr.RuleID = rule.RuleID
		*rule = nr
	}
	s.mu.Unlock()
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	writeBool(w, true)
}

func (s *Simulator) ruleLocked(ruleID string) *LBRule {
	for _, lb := range s.lbs {
		if lb.State != LBActive {
			continue
		}
		for i := range lb.Rules {
			if lb.Rules[i].RuleID == ruleID {
				return &lb.Rules[i]
			}
		}
	}
	return nil
}

// handleDeleteBackend serves DELETE /api/v1/lb/delete/backend {backendId}.
func (s *Simulator) handleDeleteBackend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		BackendID string `json:"backendId"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	found := false
	s.mu.Lock()
	for _, lb := range s.lbs {
		for i := range lb.Rules {
			n := len(lb.Rules[i].Backends)
			lb.Rules[i].Backends = slices.DeleteFunc(lb.Rules[i].Backends, func(b LBBackend) bool { return b.Identifier == in.BackendID })
			found = found || len(lb.Rules[i].Backends) < n
		}
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "Backend not found")
		return
	}
	writeBool(w, true)
}

// handleDeleteLB serves DELETE /api/v1/lb/{id} {deleteStatistic}: reason required (400), unknown id 404.
func (s *Simulator) handleDeleteLB(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DeleteStatistic *deleteStatistic `json:"deleteStatistic"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if in.DeleteStatistic == nil || strings.TrimSpace(in.DeleteStatistic.Reason) == "" {
		writeError(w, http.StatusBadRequest, msgReasonRequired)
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	lb := s.lbs[id]
	found := lb != nil && lb.State == LBActive
	if found {
		last := s.lbJSON(lb, false)
		s.buryLocked(&s.lbGhosts, lb.PendingID, lb.ListedAt, func(Faults) map[string]any { return last })
		delete(s.lbs, id)
		s.lbOrder = slices.DeleteFunc(s.lbOrder, func(x string) bool { return x == id })
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, msgLBNotFound)
		return
	}
	writeBool(w, true)
}

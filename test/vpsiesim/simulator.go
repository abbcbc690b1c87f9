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

// Package vpsiesim is a stateful, in-memory simulator of the VPSie API, written from docs/vpsie-api.md
// (independently of the provider's client). It serves both VM route prefixes, both authentication styles, the
// response envelope with its quirks (HTTP 200 with "error":true, HTML 5xx pages), asynchronous VM and load
// balancer creation that returns no id, deletes that require the account password and a reason, and injectable
// faults. See README.md for the routes, the admin endpoints and the simulator's own choices.
package vpsiesim

import (
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Defaults applied by New for zero-valued Options fields.
const (
	DefaultTokenLifetime  = time.Hour
	DefaultBootDelay      = 5 * time.Second
	DefaultLBPendingDelay = time.Second
)

// DefaultVMPrefixes are the VM route prefixes served unless Options.VMPrefixes says otherwise.
var DefaultVMPrefixes = []string{"/api/v2", "/apps/v2"}

// Options configure a Simulator. Durations: zero picks the default, a negative value means "no delay".
type Options struct {
	// ClientID and ClientSecret enable POST /apps/v2/auth/from/api. Empty disables login.
	ClientID     string
	ClientSecret string
	// Tokens are static API tokens accepted in the Vpsie-Auth header.
	Tokens []string
	// AccountPassword is what DELETE /vm requires in "password".
	AccountPassword string

	// TokenLifetime of access tokens issued by login (default 1h).
	TokenLifetime time.Duration
	// BootDelay is how long a created VM sits in /vm/pending before it boots (default 5s; negative: at once).
	BootDelay time.Duration
	// LBPendingDelay is how long a created load balancer sits in /api/v2/lbs/pending (default 1s).
	LBPendingDelay time.Duration
	// DeleteDelay keeps a deleted VM listed (power 0) for a while before it is gone (default: gone at once).
	DeleteDelay time.Duration

	// VMPrefixes are the prefixes under which the /vm routes are served (default /api/v2 and /apps/v2).
	VMPrefixes []string
	// Catalog replaces the built-in catalogue (DefaultCatalog).
	Catalog *Catalog
	// Faults active from the start.
	Faults Faults
	// Seed of the random generator that decides which requests get probabilistic faults (0: time-based).
	Seed int64
	// IgnoreNumericFlags reproduces the real API's reported behaviour: create flags sent as JSON numbers are
	// ignored (treated as absent). By default the simulator accepts numbers as older clients sent them.
	IgnoreNumericFlags bool
	// Logger receives one line per request (method, route pattern, status, duration). Nil: silent.
	Logger *log.Logger
}

// Validate reports configuration errors New would panic on.
func (o Options) Validate() error {
	for _, p := range o.VMPrefixes {
		if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.ContainsAny(p, " {}") {
			return fmt.Errorf("vm prefix %q must start with / and not end with /", p)
		}
	}
	if o.Catalog != nil {
		if err := o.Catalog.Validate(); err != nil {
			return err
		}
	}
	return o.Faults.validate()
}

// Simulator is the VPSie API simulator. It is an http.Handler and safe for concurrent use.
type Simulator struct {
	opts  Options
	mux   *http.ServeMux
	admin *http.ServeMux

	mu        sync.Mutex // guards the cloud state below
	closed    bool
	creds     Credentials
	tokens    map[string]issuedToken
	issuedLog []string // every token login issued, in order (TokensIssued)
	catalog   Catalog
	vms       map[string]*VM
	vmOrder   []string
	lbs       map[string]*LoadBalancer
	lbOrder   []string
	lbGhosts  []ghost // deleted LBs a lagging list still shows (Faults.ListLag)
	vpcs      map[int]*VPC
	vpcGhosts []ghost
	firewalls map[int]*FirewallGroup
	// firewallAttachedAt is when a group was last attached to a server, for AttachRace.
	firewallAttachedAt map[string]time.Time
	sshKeys            []*SSHKey
	scripts            []*Script
	tags               []*Tag
	seq                map[string]int // id sequences by kind
	timers             map[string]*time.Timer
	wg                 sync.WaitGroup
	bootHooks          []func(VM)
	delHooks           []func(VM)

	fmu         sync.Mutex // guards faults, rng, rate-limit window and counters
	faults      Faults
	rng         *rand.Rand
	windowStart time.Time
	windowCount int
	counts      map[string]int
	total       int
	injected    map[string]int // faults served, by kind (FaultsInjected)
}

// New builds a Simulator. It panics on an invalid configuration (see Options.Validate).
func New(o Options) *Simulator {
	if err := o.Validate(); err != nil {
		panic("vpsiesim: " + err.Error())
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	if o.BootDelay == 0 {
		o.BootDelay = DefaultBootDelay
	}
	if o.LBPendingDelay == 0 {
		o.LBPendingDelay = DefaultLBPendingDelay
	}
	if len(o.VMPrefixes) == 0 {
		o.VMPrefixes = DefaultVMPrefixes
	}
	o.VMPrefixes = dedupe(o.VMPrefixes)
	cat := DefaultCatalog()
	if o.Catalog != nil {
		cat = o.Catalog.clone()
	}
	cat.assignIDs()
	seed := o.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	s := &Simulator{
		opts:      o,
		creds:     Credentials{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Tokens: append([]string(nil), o.Tokens...), AccountPassword: o.AccountPassword},
		tokens:    map[string]issuedToken{},
		catalog:   cat,
		vms:       map[string]*VM{},
		lbs:       map[string]*LoadBalancer{},
		vpcs:      map[int]*VPC{},
		firewalls: map[int]*FirewallGroup{}, firewallAttachedAt: map[string]time.Time{},
		seq:      map[string]int{},
		timers:   map[string]*time.Timer{},
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		counts:   map[string]int{},
		injected: map[string]int{},
	}
	s.applyFaults(o.Faults)
	s.routes()
	s.adminRoutes()
	return s
}

// Close stops all pending timers (boots, LB readiness, delayed deletes) and waits for running ones. Hooks must
// not call Close.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.closed = true
	for k, t := range s.timers {
		if t.Stop() {
			s.wg.Done()
		}
		delete(s.timers, k)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// loginPattern is the one API route that needs no token.
const loginPattern = "POST /apps/v2/auth/from/api"

// unmatchedKey is the request-count key of requests no route matched.
const unmatchedKey = "UNMATCHED"

type route struct {
	pattern string
	handler http.HandlerFunc
}

// routeTable lists every API route ("METHOD /path" pattern and handler) in registration order.
func (s *Simulator) routeTable() []route {
	rt := []route{{loginPattern, s.handleLogin}}
	add := func(pattern string, h http.HandlerFunc) { rt = append(rt, route{pattern, h}) }
	for _, p := range s.opts.VMPrefixes {
		add("GET "+p+"/vm", s.handleListVMs)
		add("POST "+p+"/vm", s.handleCreateVM(p))
		add("DELETE "+p+"/vm", s.handleDeleteVM)
		add("GET "+p+"/vm/{identifier}", s.handleGetVM)
		add("GET "+p+"/vm/pending", s.handlePendingVMs)
		add("GET "+p+"/vm/status/{identifier}", s.handleVMStatus)
		add("POST "+p+"/vm/start", s.handlePower("start"))
		add("POST "+p+"/vm/stop", s.handlePower("stop"))
		add("POST "+p+"/vm/restart", s.handlePower("restart"))
		add("POST "+p+"/vm/addtags", s.handleAddTags)
		add("POST "+p+"/vm/sshkey", s.handleVMSSHKey)
		add("POST "+p+"/vm/script", s.handleVMScript)
		add("POST "+p+"/vm/add/vpc", s.handleAttachVPC)
		add("DELETE "+p+"/vm/vpc", s.handleDetachVPC)
	}
	if !contains(s.opts.VMPrefixes, "/apps/v2") {
		// The doc spells these three with /apps/v2 explicitly; they stay served whatever the VM prefixes are.
		add("GET /apps/v2/vm/pending", s.handlePendingVMs)
		add("POST /apps/v2/vm/add/vpc", s.handleAttachVPC)
		add("DELETE /apps/v2/vm/vpc", s.handleDetachVPC)
	}

	add("GET /apps/v2/datacenter", s.handleDatacenters)
	add("POST /apps/v2/resources", s.handlePlans)
	add("GET /api/v2/plans/category", s.handlePlanCategories)
	add("GET /apps/v2/custom/images", s.handleCustomImages)

	add("GET /apps/v2/sshkeys", s.handleListSSHKeys)
	add("POST /apps/v2/sshkey/add", s.handleAddSSHKey)
	add("DELETE /apps/v2/sshkey", s.handleDeleteSSHKey)
	add("GET /apps/v2/scripts", s.handleListScripts)
	add("POST /apps/v2/script/add", s.handleAddScript)
	add("GET /apps/v2/tags", s.handleListTags)
	add("POST /apps/v2/tags/add", s.handleAddTag)
	add("PUT /apps/v2/tags/edit", s.handleEditTags)

	add("GET /apps/v2/vpc", s.handleListVPCs)
	add("GET /apps/v2/vpc/{id}", s.handleGetVPC)
	add("POST /apps/v2/vpc/add", s.handleCreateVPC)
	add("DELETE /apps/v2/vpc/{id}", s.handleDeleteVPC)

	add("POST /apps/v2/firewall/create/group", s.handleCreateFirewallGroup)
	add("GET /apps/v2/firewall/groups", s.handleListFirewallGroups)
	add("GET /apps/v2/firewall/group/{id}", s.handleGetFirewallGroup)
	add("PUT /apps/v2/firewall/group/rules/update", s.handleUpdateFirewallRules)
	add("DELETE /apps/v2/firewall/group/rules/delete", s.handleDeleteFirewallRules)
	add("DELETE /apps/v2/firewall/delete/group", s.handleDeleteFirewallGroup)
	add("POST /apps/v2/firewall/attach/group", s.handleAttachFirewallGroup)
	add("POST /apps/v2/firewall/detach/group", s.handleDetachFirewallGroup)

	add("GET /api/v1/lb/all", s.handleListLBs)
	add("GET /api/v1/lb/{id}", s.handleGetLB)
	add("POST /api/v1/lb/create", s.handleCreateLB)
	add("POST /api/v1/lb/rule/update", s.handleUpdateRule)
	add("DELETE /api/v1/lb/delete/backend", s.handleDeleteBackend)
	add("DELETE /api/v1/lb/{id}", s.handleDeleteLB)
	add("POST /api/v1/lb/offers", s.handleLBOffers)
	add("GET /api/v1/lb/datacenter", s.handleLBDatacenters)
	add("GET /api/v2/lbs/pending", s.handlePendingLBs)
	return rt
}

func (s *Simulator) routes() {
	s.mux = http.NewServeMux()
	for _, r := range s.routeTable() {
		s.mux.HandleFunc(r.pattern, r.handler)
	}
}

// Routes lists the API route patterns served ("METHOD /path"), in registration order. They are also the
// request-count keys.
func (s *Simulator) Routes() []string {
	var out []string
	for _, r := range s.routeTable() {
		out = append(out, r.pattern)
	}
	return out
}

// ServeHTTP serves the VPSie API and, under /_sim/, the admin endpoints.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	label := ""
	lost := false
	defer func() {
		if s.opts.Logger == nil {
			return
		}
		outcome := fmt.Sprint(rec.code())
		if lost {
			outcome = "answer lost"
		}
		s.opts.Logger.Printf("%s -> %s (%s)", label, outcome, time.Since(start).Round(time.Microsecond))
	}()

	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		_, pattern := s.admin.Handler(r)
		label = "admin " + orPath(pattern, r)
		s.admin.ServeHTTP(rec, r)
		return
	}

	_, pattern := s.mux.Handler(r)
	key := pattern
	if key == "" {
		key = unmatchedKey
	}
	label = orPath(pattern, r)
	d := s.decide(key)

	if d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if d.retryAfter > 0 {
		s.countFault(FaultRateLimit)
		if !d.noRetryAfter {
			rec.Header().Set("Retry-After", fmt.Sprint(d.retryAfter))
		}
		writeError(rec, http.StatusTooManyRequests, msgRateLimited)
		return
	}
	if d.htmlStatus != 0 && !d.processFirst {
		s.countFault(FaultHTMLError)
		writeHTML(rec, d.htmlStatus)
		return
	}
	if pattern == "" || d.missing { // Faults.MissingRoutes: a route this account's API does not have
		if d.missing {
			s.countFault(FaultMissingRoute)
		}
		writeError(rec, http.StatusNotFound, msgNotFound)
		return
	}
	if pattern != loginPattern && !s.authenticate(r) {
		writeUnauthenticated(rec)
		return
	}
	switch {
	case d.htmlStatus != 0: // processFirst: the request takes effect, the answer is lost at the gateway
		s.mux.ServeHTTP(discardWriter{h: http.Header{}}, r)
		s.countFault(FaultHTMLError)
		writeHTML(rec, d.htmlStatus)
	case d.errorOK && d.processFirst:
		s.mux.ServeHTTP(discardWriter{h: http.Header{}}, r)
		s.countFault(FaultErrorOK)
		writeErrorCode(rec, http.StatusOK, http.StatusInternalServerError, msgInjectedError)
	case d.errorOK:
		s.countFault(FaultErrorOK)
		writeErrorCode(rec, http.StatusOK, http.StatusInternalServerError, msgInjectedError)
	case d.lostAnswer: // the request takes full effect, then the connection drops before any answer
		s.mux.ServeHTTP(discardWriter{h: http.Header{}}, r)
		s.countFault(FaultLostAnswer)
		lost = true
		loseAnswer(rec)
	default:
		s.mux.ServeHTTP(rec, r)
	}
}

func orPath(pattern string, r *http.Request) string {
	if pattern != "" {
		return pattern
	}
	return r.Method + " " + r.URL.Path + " (" + unmatchedKey + ")"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Hijack, for lost answers).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// Server is a Simulator served by an httptest.Server on a loopback port.
type Server struct {
	*Simulator
	// URL is the base URL, e.g. http://127.0.0.1:41234 (use it as the client's API base URL).
	URL string
	ts  *httptest.Server
}

// NewServer starts a Simulator on a loopback port.
func NewServer(o Options) *Server {
	sim := New(o)
	ts := httptest.NewServer(sim)
	return &Server{Simulator: sim, URL: ts.URL, ts: ts}
}

// Close shuts the HTTP server down and stops the simulator's timers.
func (s *Server) Close() {
	s.ts.Close()
	s.Simulator.Close()
}

// Client returns an *http.Client suitable for talking to the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

func dedupe(in []string) []string {
	var out []string
	for _, v := range in {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

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

package e2e

// What the chaos scenario (chaos_test.go) measures and does besides the scenario itself: the simulator's
// request log, request rates over sliding and fixed windows, a checker polling the simulator's ground truth for
// duplicate servers, the manager killer, and a search of the manager's output for secrets.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// SimRequest is one API request the simulator answered.
type SimRequest struct {
	// At is when it arrived (the time of its log line less the duration it reports).
	At time.Time
	// Route is the request-count key ("GET /api/v2/vm", ...).
	Route string
	// Outcome is the HTTP status, or "answer lost".
	Outcome string
}

// RequestLog is the simulator's request log (Options.Logger writes one line per request into it), parsed. Admin
// requests are left out: they are neither counted nor rate limited.
type RequestLog struct {
	mu   sync.Mutex
	reqs []SimRequest
}

// Write takes one line of the simulator's log: "<route> -> <outcome> (<duration>)".
func (l *RequestLog) Write(b []byte) (int, error) {
	now := time.Now()
	line := strings.TrimSpace(string(b))
	if strings.HasPrefix(line, "admin ") {
		return len(b), nil
	}
	r := SimRequest{At: now, Route: line}
	if i := strings.LastIndex(line, " -> "); i >= 0 {
		r.Route, r.Outcome = line[:i], line[i+len(" -> "):]
		if j := strings.LastIndex(r.Outcome, " ("); j >= 0 && strings.HasSuffix(r.Outcome, ")") {
			if d, err := time.ParseDuration(r.Outcome[j+2 : len(r.Outcome)-1]); err == nil {
				r.At = now.Add(-d)
			}
			r.Outcome = r.Outcome[:j]
		}
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
	return len(b), nil
}

// Since returns the requests that arrived at or after t, by arrival time.
func (l *RequestLog) Since(t time.Time) []SimRequest {
	l.mu.Lock()
	var out []SimRequest
	for _, r := range l.reqs {
		if !r.At.Before(t) {
			out = append(out, r)
		}
	}
	l.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// RateStats are the most requests seen in one window.
type RateStats struct {
	// Sliding is the most requests in any window-long interval, and where that interval starts.
	Sliding   int
	SlidingAt time.Time
	// Fixed is the most requests in one of the simulator's own windows: a window starts at the first request
	// after the previous one ended (the first one at the first request), as Faults.RateLimit counts them.
	Fixed int
}

// rates computes RateStats over requests sorted by arrival.
func rates(reqs []SimRequest, window time.Duration) RateStats {
	var st RateStats
	lo := 0
	for hi := range reqs {
		for reqs[hi].At.Sub(reqs[lo].At) >= window {
			lo++
		}
		if n := hi - lo + 1; n > st.Sliding {
			st.Sliding, st.SlidingAt = n, reqs[lo].At
		}
	}
	var start time.Time
	n := 0
	for _, r := range reqs {
		if start.IsZero() || r.At.Sub(start) >= window {
			start, n = r.At, 0
		}
		n++
		st.Fixed = max(st.Fixed, n)
	}
	return st
}

// duplicate is evidence of two live servers with one hostname.
type duplicate struct {
	At       time.Time
	Phase    string
	Hostname string
	Servers  []string // identifier, state and times of each
}

// dupChecker polls the simulator's ground truth and records every moment two live servers (pending, booting,
// listed) share a hostname.
type dupChecker struct {
	sim   *vpsiesim.Server
	phase func() string

	mu       sync.Mutex
	samples  int
	maxLive  int
	dups     map[string]duplicate // by hostname, the first sighting
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func startDupChecker(sim *vpsiesim.Server, interval time.Duration, phase func() string) *dupChecker {
	c := &dupChecker{sim: sim, phase: phase, dups: map[string]duplicate{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			c.check()
			select {
			case <-c.stop:
				c.check()
				return
			case <-t.C:
			}
		}
	}()
	return c
}

func (c *dupChecker) check() {
	now := time.Now()
	byHost := map[string][]vpsiesim.VM{}
	live := 0
	for _, vm := range c.sim.VMs() {
		if vm.Live() {
			live++
			h := strings.ToLower(vm.Hostname)
			byHost[h] = append(byHost[h], vm)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples++
	c.maxLive = max(c.maxLive, live)
	for host, vms := range byHost {
		if len(vms) < 2 {
			continue
		}
		if _, seen := c.dups[host]; seen {
			continue
		}
		c.dups[host] = duplicate{At: now, Phase: c.phase(), Hostname: host, Servers: describeVMs(vms)}
	}
}

// Stop ends the polling (after one last look) and returns the duplicates seen, by time.
func (c *dupChecker) Stop() (dups []duplicate, samples, maxLive int) {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.dups {
		dups = append(dups, d)
	}
	sort.Slice(dups, func(i, j int) bool { return dups[i].At.Before(dups[j].At) })
	return dups, c.samples, c.maxLive
}

func describeVMs(vms []vpsiesim.VM) []string {
	out := make([]string, 0, len(vms))
	for _, vm := range vms {
		out = append(out, fmt.Sprintf("%s state=%s created=%s queued=%s listed=%s deleted=%s", vm.Identifier, vm.State,
			clock(vm.CreatedAt), clock(vm.QueuedAt), clock(vm.ListedAt), clock(vm.DeletedAt)))
	}
	return out
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("15:04:05.000")
}

// createdTwice names the hostnames the simulator ever made more than one server for (live or gone), with the
// servers: in a run where nothing vanishes, every machine's server is created exactly once.
func createdTwice(sim *vpsiesim.Server) map[string][]string {
	byHost := map[string][]vpsiesim.VM{}
	for _, vm := range append(sim.VMs(), sim.DeletedVMs()...) {
		h := strings.ToLower(vm.Hostname)
		byHost[h] = append(byHost[h], vm)
	}
	out := map[string][]string{}
	for h, vms := range byHost {
		if len(vms) > 1 {
			out[h] = describeVMs(vms)
		}
	}
	return out
}

// kill is one SIGKILL of the manager.
type kill struct {
	At    time.Duration // since the start of the run
	Phase string
	Err   error // starting it again
}

// killer SIGKILLs the manager n times, at seeded random gaps, and starts it again at once each time.
type killer struct {
	mu       sync.Mutex
	kills    []kill
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func startKiller(p *Provider, rng *rand.Rand, n int, minGap, maxGap time.Duration, start time.Time, phase func() string) *killer {
	k := &killer{stop: make(chan struct{}), done: make(chan struct{})}
	gaps := make([]time.Duration, n)
	for i := range gaps {
		gaps[i] = minGap + time.Duration(rng.Int64N(int64(maxGap-minGap)))
	}
	go func() {
		defer close(k.done)
		for _, gap := range gaps {
			select {
			case <-k.stop:
				return
			case <-time.After(gap):
			}
			at := time.Since(start)
			err := p.Restart()
			k.mu.Lock()
			k.kills = append(k.kills, kill{At: at, Phase: phase(), Err: err})
			k.mu.Unlock()
		}
	}()
	return k
}

// Kills are the kills so far.
func (k *killer) Kills() []kill {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]kill(nil), k.kills...)
}

// Wait waits until every kill happened, or until timeout, then stops.
func (k *killer) Wait(timeout time.Duration) []kill {
	select {
	case <-k.done:
	case <-time.After(timeout):
		k.Stop()
	}
	return k.Kills()
}

// Stop cancels the kills still to come and waits for a running one to end.
func (k *killer) Stop() {
	k.stopOnce.Do(func() { close(k.stop) })
	<-k.done
}

// leak is a secret found in the manager's output.
type leak struct {
	What    string
	Line    int
	Excerpt string // the line, the secret masked
}

// simTokenPattern matches the simulator's tokens (vpsiesim: "simtok-" and hex), also truncated ones.
var simTokenPattern = regexp.MustCompile(`simtok-[0-9a-f]{6,}`)

// findSecrets looks for each secret (by name) and for anything shaped like a simulator token in out.
func findSecrets(out []byte, secrets map[string]string) []leak {
	var leaks []leak
	for i, line := range bytes.Split(out, []byte("\n")) {
		s := string(line)
		for what, secret := range secrets {
			if secret != "" && strings.Contains(s, secret) {
				leaks = append(leaks, leak{What: what, Line: i + 1, Excerpt: mask(s, secret)})
			}
		}
		for _, m := range simTokenPattern.FindAllString(s, -1) {
			leaks = append(leaks, leak{What: "simulator token " + m[:min(len(m), 12)] + "…", Line: i + 1, Excerpt: mask(s, m)})
		}
	}
	return leaks
}

func mask(line, secret string) string {
	line = strings.ReplaceAll(line, secret, "<"+fmt.Sprintf("%d-char secret", len(secret))+">")
	if len(line) > 400 {
		line = line[:400] + "…"
	}
	return line
}

// countOutcomes counts requests by outcome ("401", "429", "answer lost", ...).
func countOutcomes(reqs []SimRequest) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		out[r.Outcome]++
	}
	return out
}

// topRoutes lists the n routes with the most requests, "route=count".
func topRoutes(reqs []SimRequest, n int) string {
	by := map[string]int{}
	for _, r := range reqs {
		by[r.Route]++
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return by[keys[i]] > by[keys[j]] || by[keys[i]] == by[keys[j]] && keys[i] < keys[j]
	})
	parts := make([]string, 0, n)
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s=%d", k, by[k]))
	}
	return strings.Join(parts, ", ")
}

// writeArtifacts writes the run's request log, the manager's output and the simulator's final state into dir
// (a new temporary folder when empty) and returns the folder.
func writeArtifacts(dir string, seed int64, reqs []SimRequest, output []byte, state vpsiesim.State) (string, error) {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", fmt.Sprintf("capvpsie-chaos-%d-", seed)); err != nil {
			return "", err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "%s %s -> %s\n", r.At.Format("15:04:05.000"), r.Route, r.Outcome)
	}
	for _, vms := range [][]vpsiesim.VM{state.VMs, state.DeletedVMs} {
		for i := range vms {
			vms[i].UserData, vms[i].CreateRequest = "", nil // bootstrap data is no evidence
		}
	}
	state.Catalog = vpsiesim.Catalog{}
	st, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{"requests.log": []byte(b.String()), "manager.log": output, "simulator-state.json": st} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

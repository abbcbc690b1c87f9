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
	"net/http"
	"slices"
	"time"
)

// The API's views of the cloud are not the truth. The real API lists servers some time after they exist and
// keeps listing them for a while after they went (a lagging read replica or cache), and a server that just left
// the pending queue can be nowhere at all for a moment. Faults.ListGap and Faults.ListLag reproduce that. The
// views are computed from timestamps fixed when an event happens, so they need no timers, and the simulator's
// own accessors (VMs, Snapshot, /_sim/state) keep telling the truth.

// shown reports whether calls naming the VM by identifier find it: it left the queue, still exists and is
// past Faults.ListGap.
func (v *VM) shown(now time.Time) bool {
	return v.listed() && !now.Before(v.VisibleAt)
}

// listedVMsLocked renders GET /vm as a list lagging by Faults.ListLag shows it: VMs past ListedAt that still
// exist, as they are now, and VMs that went less than ListLag ago, as they were last seen.
func (s *Simulator) listedVMsLocked(now time.Time, project string) []map[string]any {
	var out []map[string]any
	for _, v := range s.sortedVMsLocked() {
		if project != "" && v.ProjectID != project {
			continue
		}
		switch {
		case v.listed() && !now.Before(v.ListedAt):
			out = append(out, s.vmJSON(v))
		case !v.listed() && v.lastSeen != nil && !now.Before(v.ListedAt) && now.Before(v.UnlistAt):
			out = append(out, v.lastSeen)
		}
	}
	return out
}

// rememberVMLocked keeps what a lagging GET /vm last showed of v before it goes. Only a VM the API already
// showed leaves a trace; one that went during its ListGap was never seen.
func (s *Simulator) rememberVMLocked(v *VM, now time.Time) {
	lag := s.modes().ListLag
	if lag <= 0 || !v.shown(now) {
		return
	}
	v.lastSeen = s.vmJSON(v)
	v.UnlistAt = now.Add(lag)
}

// ghost is a deleted load balancer or VPC that a lagging list still shows, as it was last seen, from `from`
// (when it was first listed) until `until` (ListLag after it went). order is its place among the live ones;
// render draws it under the faults of the moment (the VPC wire-format modes may change meanwhile).
type ghost struct {
	order       int
	from, until time.Time
	render      func(Faults) map[string]any
}

// buryLocked records a ghost for a deleted object when lists lag; expired ghosts are dropped on the way.
func (s *Simulator) buryLocked(ghosts *[]ghost, order int, listedAt time.Time, render func(Faults) map[string]any) {
	now := time.Now()
	*ghosts = slices.DeleteFunc(*ghosts, func(g ghost) bool { return !now.Before(g.until) })
	if lag := s.modes().ListLag; lag > 0 {
		*ghosts = append(*ghosts, ghost{order: order, from: listedAt, until: now.Add(lag), render: render})
	}
}

// laggedEntry is one item of a lagging list before it is ordered.
type laggedEntry struct {
	order int
	data  map[string]any
}

// withGhosts adds the ghosts visible at now to the live entries and orders the lot as the list would.
func withGhosts(live []laggedEntry, ghosts []ghost, now time.Time, f Faults) []map[string]any {
	for _, g := range ghosts {
		if !now.Before(g.from) && now.Before(g.until) {
			live = append(live, laggedEntry{g.order, g.render(f)})
		}
	}
	slices.SortStableFunc(live, func(a, b laggedEntry) int { return a.order - b.order })
	out := make([]map[string]any, 0, len(live))
	for _, e := range live {
		out = append(out, e.data)
	}
	return out
}

// listedLBsLocked renders GET /api/v1/lb/all: active load balancers past ListedAt, plus ghosts.
func (s *Simulator) listedLBsLocked(now time.Time) []map[string]any {
	var live []laggedEntry
	for _, lb := range s.sortedLBsLocked() {
		if lb.State == LBActive && !now.Before(lb.ListedAt) {
			live = append(live, laggedEntry{lb.PendingID, s.lbJSON(lb, false)})
		}
	}
	return withGhosts(live, s.lbGhosts, now, s.modes())
}

// listedVPCsLocked renders GET /apps/v2/vpc: VPCs past ListedAt, plus ghosts.
func (s *Simulator) listedVPCsLocked(now time.Time) []map[string]any {
	f := s.modes()
	var live []laggedEntry
	for _, v := range s.sortedVPCsLocked() {
		if !now.Before(v.ListedAt) {
			live = append(live, laggedEntry{v.ID, s.vpcJSON(v, f)})
		}
	}
	return withGhosts(live, s.vpcGhosts, now, f)
}

// page applies ?offset=&limit= to a collection of n items. Missing or invalid values mean "everything";
// Faults.PageCap caps the page whatever limit asks.
func (s *Simulator) page(r *http.Request, n int) (lo, hi int) {
	lo, hi = pageBounds(r, n)
	if c := s.modes().PageCap; c > 0 {
		hi = min(hi, lo+c)
	}
	return lo, hi
}

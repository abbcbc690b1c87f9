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

// Firewall groups as docs/vpsie-api.md ("Networking") reads them from VPSie's newest SDK and Terraform
// provider: a create that returns no id (found by name, lagging the list by Faults.ListLag), rules grouped
// into inBound/outBound, a delete that fails with HTTP 500 without deleteStatistic, attach/detach by VM
// identifier, and the API's own quirks (a rule needs a comment; a comment is unique per direction unless it
// is "Custom"; two attaches to one server close together fail with ipSetNotCreated).

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FirewallRule is one rule of a firewall group.
type FirewallRule struct {
	Identifier string   `json:"identifier"`
	Action     string   `json:"action"` // ACCEPT or DROP
	Type       string   `json:"type"`   // the direction: in or out
	Proto      string   `json:"proto"`  // tcp, udp, icmp; empty with a macro
	Dport      string   `json:"dport"`  // "6443" or a range "30000:32767"
	Sport      string   `json:"sport"`
	Source     []string `json:"source"`
	Dest       []string `json:"dest"`
	Enable     int      `json:"enable"`
	Macro      string   `json:"macro"`
	Comment    string   `json:"comment"`
	Log        string   `json:"log,omitempty"`
}

// FirewallGroup is a named set of rules attached to servers.
type FirewallGroup struct {
	ID         int            `json:"id"`
	Identifier string         `json:"identifier"`
	Name       string         `json:"groupName"`
	Rules      []FirewallRule `json:"rules"`
	VMs        []string       `json:"vms"` // identifiers of the servers it is attached to
	CreatedAt  time.Time      `json:"createdAt"`
	ListedAt   time.Time      `json:"listedAt,omitzero"`
	// DeletedAt is when the group was deleted; the list keeps showing it, as it was, for Faults.ListLag.
	DeletedAt time.Time `json:"-"`
	// unlistedAt is when the list stops showing a deleted group.
	unlistedAt time.Time
}

func (g *FirewallGroup) clone() FirewallGroup {
	c := *g
	c.Rules = slices.Clone(g.Rules)
	c.VMs = slices.Clone(g.VMs)
	return c
}

// AttachRace is how close together two attaches of groups to the same server fail inside VPSie: the second
// answers 500 ipSetNotCreated (Terraform's provider serialises attachments to one server for this). Generous,
// so that a test under load still sees two back-to-back attaches collide.
const AttachRace = time.Second

// rulesJSON groups rules as the API answers them: {inBound: [...], outBound: [...]}.
func rulesJSON(rules []FirewallRule) map[string]any {
	in, out := []FirewallRule{}, []FirewallRule{}
	for _, r := range rules {
		if r.Type == "out" {
			out = append(out, r)
		} else {
			in = append(in, r)
		}
	}
	return map[string]any{"inBound": in, "outBound": out}
}

func (s *Simulator) firewallVMsLocked(g *FirewallGroup) []map[string]any {
	out := []map[string]any{}
	for _, id := range g.VMs {
		if vm := s.vms[id]; vm != nil {
			out = append(out, map[string]any{"identifier": vm.Identifier, "hostname": vm.Hostname})
		}
	}
	return out
}

func (s *Simulator) firewallGroupJSON(g *FirewallGroup) map[string]any {
	in, out := 0, 0
	for _, r := range g.Rules {
		if r.Type == "out" {
			out++
		} else {
			in++
		}
	}
	return map[string]any{
		"id": g.ID, "identifier": g.Identifier, "group_name": g.Name, "rules": rulesJSON(g.Rules),
		"vms": len(g.VMs), "vmsData": s.firewallVMsLocked(g), "inbound_count": in, "outbound_count": out,
		"created_on": apiTime(g.CreatedAt), "updated_on": apiTime(g.CreatedAt),
	}
}

// firewallGroupLocked finds a group that exists by its identifier or its numeric id.
func (s *Simulator) firewallGroupLocked(key string) *FirewallGroup {
	for _, g := range s.firewalls {
		if g.DeletedAt.IsZero() && (g.Identifier == key || strconv.Itoa(g.ID) == key) {
			return g
		}
	}
	return nil
}

func (s *Simulator) sortedFirewallsLocked() []*FirewallGroup {
	out := make([]*FirewallGroup, 0, len(s.firewalls))
	for _, g := range s.firewalls {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *FirewallGroup) int { return a.ID - b.ID })
	return out
}

// FirewallGroups returns the account's firewall groups, listed or not yet.
func (s *Simulator) FirewallGroups() []FirewallGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []FirewallGroup
	for _, g := range s.sortedFirewallsLocked() {
		if g.DeletedAt.IsZero() {
			out = append(out, g.clone())
		}
	}
	return out
}

// validPorts accepts "", "N" or "N:M" with 1 <= N <= M <= 65535.
func validPorts(p string) bool {
	if p == "" {
		return true
	}
	lo, hi, isRange := strings.Cut(p, ":")
	a, errA := strconv.Atoi(lo)
	b := a
	var errB error
	if isRange {
		b, errB = strconv.Atoi(hi)
	}
	return errA == nil && errB == nil && a >= 1 && b <= 65535 && a <= b
}

// checkRules validates rules as the API would and fills identifiers; existing are the group's rules (for the
// comment rule).
func checkRules(rules []FirewallRule, existing []FirewallRule) ([]FirewallRule, string) {
	seen := map[string]bool{}
	for _, r := range existing {
		seen[r.Type+"\x00"+r.Comment] = true
	}
	out := make([]FirewallRule, 0, len(rules))
	for i, r := range rules {
		switch {
		case r.Action != "ACCEPT" && r.Action != "DROP":
			return nil, fmt.Sprintf("rules[%d]: action must be ACCEPT or DROP", i)
		case r.Type != "in" && r.Type != "out":
			return nil, fmt.Sprintf("rules[%d]: type must be in or out", i)
		case r.Macro == "" && r.Proto != "tcp" && r.Proto != "udp" && r.Proto != "icmp":
			return nil, fmt.Sprintf("rules[%d]: proto must be tcp, udp or icmp", i)
		case !validPorts(r.Dport) || !validPorts(r.Sport):
			return nil, fmt.Sprintf("rules[%d]: invalid port", i)
		case strings.TrimSpace(r.Comment) == "":
			return nil, fmt.Sprintf("rules[%d]: comment is required", i)
		}
		for _, list := range [][]string{r.Source, r.Dest} {
			for j, a := range list {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					addr, aerr := netip.ParseAddr(a)
					if aerr != nil {
						return nil, fmt.Sprintf("rules[%d]: invalid address %q", i, a)
					}
					p = netip.PrefixFrom(addr, addr.BitLen())
				}
				list[j] = p.Masked().String() // VPSie normalises CIDRs
			}
		}
		if r.Comment != "Custom" {
			key := r.Type + "\x00" + r.Comment
			if seen[key] {
				return nil, fmt.Sprintf("rules[%d]: a rule with comment %q already exists for direction %s", i, r.Comment, r.Type)
			}
			seen[key] = true
		}
		if r.Macro != "" {
			r.Dport, r.Sport = "", ""
		}
		if r.Identifier == "" {
			r.Identifier = newUUID()
		}
		if r.Source == nil {
			r.Source = []string{}
		}
		if r.Dest == nil {
			r.Dest = []string{}
		}
		out = append(out, r)
	}
	return out, ""
}

// handleCreateFirewallGroup serves POST /apps/v2/firewall/create/group {groupName, rules}. No id is returned.
func (s *Simulator) handleCreateFirewallGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		GroupName string         `json:"groupName"`
		Rules     []FirewallRule `json:"rules"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if n := len(strings.TrimSpace(in.GroupName)); n < 5 || n > 50 {
		writeError(w, http.StatusBadRequest, "groupName must be 5 to 50 characters")
		return
	}
	rules, msg := checkRules(in.Rules, nil)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	s.mu.Lock()
	id := s.nextID("firewall", 700)
	now := time.Now()
	s.firewalls[id] = &FirewallGroup{ID: id, Identifier: newUUID(), Name: in.GroupName, Rules: rules, VMs: []string{},
		CreatedAt: now, ListedAt: now.Add(s.modes().ListLag)}
	s.mu.Unlock()
	writeBool(w, true)
}

// handleListFirewallGroups serves GET /apps/v2/firewall/groups (no paging), lagging by Faults.ListLag both
// ways: a new group is listed late, a deleted one stays listed (as it was when deleted) for as long.
func (s *Simulator) handleListFirewallGroups(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	s.mu.Lock()
	out := []map[string]any{}
	for _, g := range s.sortedFirewallsLocked() {
		switch {
		case !g.DeletedAt.IsZero() && !now.Before(g.unlistedAt):
			delete(s.firewalls, g.ID)
		case !now.Before(g.ListedAt):
			out = append(out, s.firewallGroupJSON(g))
		}
	}
	s.mu.Unlock()
	writeList(w, out, len(out))
}

// handleGetFirewallGroup serves GET /apps/v2/firewall/group/{id}: {group, rules, vms, count}.
func (s *Simulator) handleGetFirewallGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	g := s.firewallGroupLocked(r.PathValue("id"))
	if g == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Firewall group not found")
		return
	}
	vms := s.firewallVMsLocked(g)
	out := map[string]any{"group": s.firewallGroupJSON(g), "rules": rulesJSON(g.Rules), "vms": vms, "count": len(vms)}
	s.mu.Unlock()
	writeObject(w, out)
}

// groupRequest is a request body naming a group by groupId.
type groupRequest interface{ group() string }

type firewallRulesRequest struct {
	GroupID string         `json:"groupId"`
	Rules   []FirewallRule `json:"rules"`
}

func (q *firewallRulesRequest) group() string { return q.GroupID }

type firewallRuleIDsRequest struct {
	GroupID string   `json:"groupId"`
	Rules   []string `json:"rules"`
}

func (q *firewallRuleIDsRequest) group() string { return q.GroupID }

// changeFirewallGroup decodes in and runs change on the group it names, under the state lock; change answers
// the request. An unknown group answers 404.
func (s *Simulator) changeFirewallGroup(w http.ResponseWriter, r *http.Request, in groupRequest, change func(*FirewallGroup)) {
	if _, ok := decodeBody(w, r, in); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.firewallGroupLocked(in.group())
	if g == nil {
		writeError(w, http.StatusNotFound, "Firewall group not found")
		return
	}
	change(g)
}

// handleUpdateFirewallRules serves PUT /apps/v2/firewall/group/rules/update {groupId, rules}: a rule with an
// identifier of the group replaces it, one without is added.
func (s *Simulator) handleUpdateFirewallRules(w http.ResponseWriter, r *http.Request) {
	in := &firewallRulesRequest{}
	s.changeFirewallGroup(w, r, in, func(g *FirewallGroup) {
		kept := slices.DeleteFunc(slices.Clone(g.Rules), func(old FirewallRule) bool {
			return slices.ContainsFunc(in.Rules, func(n FirewallRule) bool { return n.Identifier == old.Identifier })
		})
		rules, msg := checkRules(in.Rules, kept)
		if msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		kept = append(kept, rules...)
		g.Rules = kept
		writeBool(w, true)
	})
}

// handleDeleteFirewallRules serves DELETE /apps/v2/firewall/group/rules/delete {groupId, rules: [identifier]}.
func (s *Simulator) handleDeleteFirewallRules(w http.ResponseWriter, r *http.Request) {
	in := &firewallRuleIDsRequest{}
	s.changeFirewallGroup(w, r, in, func(g *FirewallGroup) {
		g.Rules = slices.DeleteFunc(g.Rules, func(r FirewallRule) bool { return slices.Contains(in.Rules, r.Identifier) })
		writeBool(w, true)
	})
}

// handleDeleteFirewallGroup serves DELETE /apps/v2/firewall/delete/group {groupId, deleteStatistic}. Without
// deleteStatistic VPSie answers HTTP 500 (Terraform's changelog); a group still attached to servers is refused
// (the simulator's choice: the real answer is unknown).
func (s *Simulator) handleDeleteFirewallGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		GroupID         string           `json:"groupId"`
		DeleteStatistic *deleteStatistic `json:"deleteStatistic"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if in.DeleteStatistic == nil {
		writeError(w, http.StatusInternalServerError, "Cannot read properties of undefined (reading 'reason')")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.firewallGroupLocked(in.GroupID)
	switch {
	case g == nil:
		writeError(w, http.StatusNotFound, "Firewall group not found")
	case len(g.VMs) > 0:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Firewall group is attached to %d server(s); detach it first", len(g.VMs)))
	default:
		g.DeletedAt = time.Now()
		g.unlistedAt = g.DeletedAt.Add(s.modes().ListLag)
		if !g.unlistedAt.After(g.DeletedAt) {
			delete(s.firewalls, g.ID)
		}
		writeBool(w, true)
	}
}

type firewallAttachRequest struct {
	VMID    string `json:"vmId"`
	GroupID string `json:"groupId"`
}

func (q *firewallAttachRequest) group() string { return q.GroupID }

// handleAttachFirewallGroup serves POST /apps/v2/firewall/attach/group {vmId, groupId}.
func (s *Simulator) handleAttachFirewallGroup(w http.ResponseWriter, r *http.Request) {
	var in firewallAttachRequest
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	g, vm := s.firewallGroupLocked(in.GroupID), s.vms[in.VMID]
	switch {
	case g == nil:
		writeError(w, http.StatusNotFound, "Firewall group not found")
	case vm == nil:
		writeError(w, http.StatusNotFound, msgVMNotFound)
	case now.Sub(s.firewallAttachedAt[in.VMID]) < AttachRace && !slices.Contains(g.VMs, in.VMID):
		writeError(w, http.StatusInternalServerError, "ipSetNotCreated")
	default:
		if !slices.Contains(g.VMs, in.VMID) {
			g.VMs = append(g.VMs, in.VMID)
			s.firewallAttachedAt[in.VMID] = now
		}
		writeBool(w, true)
	}
}

// handleDetachFirewallGroup serves POST /apps/v2/firewall/detach/group {vmId, groupId}.
func (s *Simulator) handleDetachFirewallGroup(w http.ResponseWriter, r *http.Request) {
	in := &firewallAttachRequest{}
	s.changeFirewallGroup(w, r, in, func(g *FirewallGroup) {
		g.VMs = slices.DeleteFunc(g.VMs, func(id string) bool { return id == in.VMID })
		writeBool(w, true)
	})
}

// detachFirewallsLocked drops a deleted server from every group.
func (s *Simulator) detachFirewallsLocked(vmID string) {
	for _, g := range s.firewalls {
		g.VMs = slices.DeleteFunc(g.VMs, func(id string) bool { return id == vmID })
	}
	delete(s.firewallAttachedAt, vmID)
}

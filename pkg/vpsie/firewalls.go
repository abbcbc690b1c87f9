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

// Firewall groups (docs/vpsie-api.md, "Networking"): created without an id (found by name), rules grouped by
// direction, attached to servers one at a time.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// FirewallRule is one rule of a firewall group, as sent and as answered.
type FirewallRule struct {
	// Identifier is set on answers; on an update it names the rule replaced (empty: a new rule).
	Identifier String `json:"identifier,omitempty"`
	// Action is ACCEPT or DROP.
	Action String `json:"action"`
	// Direction is "in" or "out" (VPSie's field "type").
	Direction String `json:"type"`
	// Proto is tcp, udp or icmp; empty with a macro.
	Proto String `json:"proto,omitempty"`
	// Dport and Sport are a port ("6443") or a range ("30000:32767"); empty is any.
	Dport String `json:"dport,omitempty"`
	Sport String `json:"sport,omitempty"`
	// Source and Dest are IPs or CIDRs; empty is any.
	Source []String `json:"source,omitempty"`
	Dest   []String `json:"dest,omitempty"`
	// Enable is 1 for an active rule.
	Enable Int `json:"enable"`
	// Macro is a predefined service (Proxmox macros such as SSH); it replaces the ports.
	Macro String `json:"macro,omitempty"`
	// Comment is required by VPSie and unique per direction unless it is "Custom".
	Comment String `json:"comment"`
}

// FirewallRules are a group's rules. Answers group them as {inBound:[...], outBound:[...]} (the newest SDK)
// or list them flat (older SDKs); both decode.
type FirewallRules []FirewallRule

// UnmarshalJSON reads either shape; null or false is no rules.
func (r *FirewallRules) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if isAbsent(b) {
		*r = nil
		return nil
	}
	if b[0] == '[' {
		var flat []FirewallRule
		if err := json.Unmarshal(b, &flat); err != nil {
			return err
		}
		*r = flat
		return nil
	}
	var grouped struct {
		InBound  []FirewallRule `json:"inBound"`
		OutBound []FirewallRule `json:"outBound"`
	}
	if err := json.Unmarshal(b, &grouped); err != nil {
		return err
	}
	all := grouped.InBound
	all = append(all, grouped.OutBound...)
	*r = all
	return nil
}

// FirewallVM is a server a group is attached to.
type FirewallVM struct {
	Identifier String `json:"identifier"`
	Hostname   String `json:"hostname"`
}

// FirewallGroup is a firewall group as listed (GET /apps/v2/firewall/groups) or got.
type FirewallGroup struct {
	ID         ID            `json:"id"`
	Identifier String        `json:"identifier"`
	Name       String        `json:"group_name"`
	Rules      FirewallRules `json:"rules"`
	// VMs are the servers the group is attached to ("vmsData" in lists, "vms" in a get).
	VMs []FirewallVM `json:"vmsData"`
}

// firewallGroupDetails is GET /apps/v2/firewall/group/{id}: {group, rules, vms, count}.
type firewallGroupDetails struct {
	Group FirewallGroup `json:"group"`
	Rules FirewallRules `json:"rules"`
	VMs   []FirewallVM  `json:"vms"`
}

// FindFirewallGroupsByName returns the groups named name: creates return no id, the name is how a created
// group is found.
func FindFirewallGroupsByName(groups []FirewallGroup, name string) []FirewallGroup {
	var out []FirewallGroup
	for _, g := range groups {
		if string(g.Name) == name {
			out = append(out, g)
		}
	}
	return out
}

// ListFirewallGroups returns every firewall group of the account (the route does not page).
func (c *Client) ListFirewallGroups(ctx context.Context) ([]FirewallGroup, error) {
	return getList[FirewallGroup](ctx, c, "ListFirewallGroups", "/apps/v2/firewall/groups")
}

// GetFirewallGroup returns one group with its rules and servers; data:false is NotFound.
func (c *Client) GetFirewallGroup(ctx context.Context, identifier string) (*FirewallGroup, error) {
	if err := requireID("GetFirewallGroup", "identifier", identifier); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, request{op: "GetFirewallGroup", method: http.MethodGet,
		path: "/apps/v2/firewall/group/" + url.PathEscape(identifier), idempotent: true})
	if err != nil {
		return nil, err
	}
	var out firewallGroupDetails
	if err := decodeObject("GetFirewallGroup", res, &out); err != nil {
		return nil, c.fail(asError(err))
	}
	g := out.Group
	if len(out.Rules) > 0 {
		g.Rules = out.Rules
	}
	if out.VMs != nil {
		g.VMs = out.VMs
	}
	return &g, nil
}

// CreateFirewallGroup creates a group with its rules. No id is returned: find it by name. Not retried.
func (c *Client) CreateFirewallGroup(ctx context.Context, name string, rules []FirewallRule) error {
	if err := requireID("CreateFirewallGroup", "groupName", name); err != nil {
		return err
	}
	body := struct {
		GroupName string         `json:"groupName"`
		Rules     []FirewallRule `json:"rules"`
	}{name, rules}
	_, err := c.do(ctx, request{op: "CreateFirewallGroup", method: http.MethodPost, path: "/apps/v2/firewall/create/group",
		body: body, notFoundIsTerminal: true})
	return err
}

// UpdateFirewallRules adds rules to a group, or replaces those whose Identifier it names. Not retried.
func (c *Client) UpdateFirewallRules(ctx context.Context, group string, rules []FirewallRule) error {
	if err := requireID("UpdateFirewallRules", "groupId", group); err != nil {
		return err
	}
	body := struct {
		GroupID string         `json:"groupId"`
		Rules   []FirewallRule `json:"rules"`
	}{group, rules}
	_, err := c.do(ctx, request{op: "UpdateFirewallRules", method: http.MethodPut, path: "/apps/v2/firewall/group/rules/update", body: body})
	return err
}

// DeleteFirewallRules removes rules by identifier (idempotent).
func (c *Client) DeleteFirewallRules(ctx context.Context, group string, ruleIdentifiers []string) error {
	if err := requireID("DeleteFirewallRules", "groupId", group); err != nil {
		return err
	}
	body := struct {
		GroupID string   `json:"groupId"`
		Rules   []string `json:"rules"`
	}{group, ruleIdentifiers}
	_, err := c.do(ctx, request{op: "DeleteFirewallRules", method: http.MethodDelete, path: "/apps/v2/firewall/group/rules/delete",
		body: body, idempotent: true})
	return err
}

// DeleteFirewallGroup deletes a group (idempotent). VPSie answers HTTP 500 without deleteStatistic.
func (c *Client) DeleteFirewallGroup(ctx context.Context, group, reason, note string) error {
	if err := requireID("DeleteFirewallGroup", "groupId", group); err != nil {
		return err
	}
	body := struct {
		GroupID         string          `json:"groupId"`
		DeleteStatistic DeleteStatistic `json:"deleteStatistic"`
	}{group, deleteStatistic(reason, note)}
	_, err := c.do(ctx, request{op: "DeleteFirewallGroup", method: http.MethodDelete, path: "/apps/v2/firewall/delete/group",
		body: body, idempotent: true})
	return err
}

// AttachFirewallGroup attaches a group to a server. VPSie fails concurrent attaches to one server
// (ipSetNotCreated): callers attach one group at a time per server. Retried: attaching twice is harmless.
func (c *Client) AttachFirewallGroup(ctx context.Context, vmIdentifier, group string) error {
	return c.firewallMembership(ctx, "AttachFirewallGroup", "/apps/v2/firewall/attach/group", vmIdentifier, group)
}

// DetachFirewallGroup detaches a group from a server (idempotent).
func (c *Client) DetachFirewallGroup(ctx context.Context, vmIdentifier, group string) error {
	return c.firewallMembership(ctx, "DetachFirewallGroup", "/apps/v2/firewall/detach/group", vmIdentifier, group)
}

func (c *Client) firewallMembership(ctx context.Context, op, path, vmIdentifier, group string) error {
	if err := requireID(op, "vmId", vmIdentifier); err != nil {
		return err
	}
	if err := requireID(op, "groupId", group); err != nil {
		return err
	}
	body := struct {
		VMID    string `json:"vmId"`
		GroupID string `json:"groupId"`
	}{vmIdentifier, group}
	_, err := c.do(ctx, request{op: op, method: http.MethodPost, path: path, body: body, idempotent: true})
	return err
}

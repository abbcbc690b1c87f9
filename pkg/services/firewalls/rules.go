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

package firewalls

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// RulePrefix starts the names (VPSie comments) of the rules the provider derives from the spec; a user's rule
// may not use it.
const RulePrefix = "capvpsie-"

// NodePortRange is Kubernetes' default NodePort range, in VPSie's port syntax.
const NodePortRange = "30000:32767"

// Inputs is what a cluster's firewall rules are derived from.
type Inputs struct {
	// Spec is VPSieCluster.spec.firewall.
	Spec infrav1.FirewallSpec
	// APIServerPort is the port the API servers listen on (the load balancer forwards to the same port).
	APIServerPort int32
	// LoadBalancerIP is the control-plane load balancer's address; empty without one (or before it has one).
	LoadBalancerIP string
	// VPCCIDR is the range of the cluster's VPC: everything from it is accepted.
	VPCCIDR string
	// PodCIDRs are the cluster's Pod ranges (Cluster.spec.clusterNetwork.pods): a CNI that routes without
	// encapsulation sends node-to-node traffic from Pod addresses.
	PodCIDRs []string
}

// ParseSource is the one reading of a rule source, shared by the webhook and the rules sent: an IPv4 or IPv6
// address, or a CIDR without host bits. An address is a /32 (or /128), as VPSie stores it.
func ParseSource(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("host bits must be zero: use %s (or %s/%d for this address alone)",
				p.Masked(), p.Addr(), p.Addr().BitLen())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("must be an IP address or a CIDR such as 203.0.113.0/24 (0.0.0.0/0 is anywhere on IPv4)")
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// ParsePorts reads a rule's ports: "" (every port), "443" or "8000-8100". It returns VPSie's form ("8000:8100").
func ParsePorts(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, errA := strconv.Atoi(lo)
	b, errB := a, error(nil)
	if isRange {
		b, errB = strconv.Atoi(hi)
	}
	switch {
	case errA != nil || errB != nil:
		return "", errors.New(`must be a port such as "443" or a range such as "8000-8100"`)
	case a < 1 || b > 65535:
		return "", errors.New("ports are from 1 to 65535")
	case a > b:
		return "", fmt.Errorf("the range starts after it ends: use %d-%d", b, a)
	case a == b:
		return strconv.Itoa(a), nil
	}
	return fmt.Sprintf("%d:%d", a, b), nil
}

// Desired is the rules of a cluster's group. Every rule accepts; VPSie keeps no rule order, so there is no
// rule that drops: what no rule accepts is dropped by the group's default inbound policy (docs/networking.md
// says what is known of it). Sources that do not parse are left out (the webhook refuses them).
func Desired(in Inputs) []vpsie.FirewallRule {
	var rules []vpsie.FirewallRule
	add := func(comment, dir, proto, dport string, sources ...string) {
		var src []vpsie.String
		for _, s := range sources {
			if p, err := ParseSource(s); err == nil && !slices.Contains(src, vpsie.String(p.String())) {
				src = append(src, vpsie.String(p.String()))
			}
		}
		if dir == "in" && len(src) == 0 {
			return // a rule with no source would accept everything
		}
		rules = append(rules, vpsie.FirewallRule{Action: "ACCEPT", Direction: vpsie.String(dir), Proto: vpsie.String(proto),
			Dport: vpsie.String(dport), Source: src, Enable: 1, Comment: vpsie.String(comment)})
	}
	api := strconv.Itoa(int(in.APIServerPort))
	if in.LoadBalancerIP != "" {
		add(RulePrefix+"api-from-lb", "in", "tcp", api, in.LoadBalancerIP)
	}
	add(RulePrefix+"api", "in", "tcp", api, in.Spec.APIServerSources...)
	add(RulePrefix+"ssh", "in", "tcp", "22", in.Spec.SSHSources...)
	inside := append([]string{in.VPCCIDR}, in.PodCIDRs...)
	for _, proto := range []string{"tcp", "udp", "icmp"} {
		add(RulePrefix+"vpc-"+proto, "in", proto, "", inside...)
	}
	for _, proto := range []string{"tcp", "udp"} {
		add(RulePrefix+"nodeports-"+proto, "in", proto, NodePortRange, in.Spec.NodePortSources...)
	}
	for _, r := range in.Spec.Rules {
		ports, err := ParsePorts(r.Ports)
		if err != nil || (r.Protocol == infrav1.FirewallProtocolICMP && ports != "") {
			continue
		}
		add(r.Name, "in", string(r.Protocol), ports, r.Sources...)
	}
	// Outbound is open: nodes pull images and packages, reach VPSie's API and the load balancer.
	for _, proto := range []string{"tcp", "udp", "icmp"} {
		add(RulePrefix+"egress-"+proto, "out", proto, "")
	}
	return rules
}

// Changes are what brings a group's rules to the desired ones.
type Changes struct {
	// Upsert are rules to add (no Identifier) or to replace (the Identifier of the rule replaced).
	Upsert []vpsie.FirewallRule
	// Remove are identifiers of rules to delete: rules nobody asked for, and duplicates.
	Remove []string
}

// Empty tells whether the group already has the desired rules.
func (c Changes) Empty() bool { return len(c.Upsert) == 0 && len(c.Remove) == 0 }

// Diff compares a group's rules with the desired ones. A rule is known by its direction and comment (VPSie keeps
// comments unique per direction); every rule of the group that is not desired is removed, so a rule changed or
// added out of band is put back as the spec says.
func Diff(existing, desired []vpsie.FirewallRule) Changes {
	var c Changes
	used := make([]bool, len(existing))
	for _, want := range desired {
		matched := false
		for i, have := range existing {
			if used[i] || !strings.EqualFold(string(have.Direction), string(want.Direction)) || have.Comment != want.Comment {
				continue
			}
			used[i], matched = true, true
			if !sameRule(have, want) {
				want.Identifier = have.Identifier
				c.Upsert = append(c.Upsert, want)
			}
			break
		}
		if !matched {
			c.Upsert = append(c.Upsert, want)
		}
	}
	for i, have := range existing {
		if !used[i] && have.Identifier != "" {
			c.Remove = append(c.Remove, string(have.Identifier))
		}
	}
	return c
}

// sameRule compares what a rule does, reading VPSie leniently: case, address normalisation and order of
// sources do not count.
func sameRule(a, b vpsie.FirewallRule) bool {
	return strings.EqualFold(string(a.Action), string(b.Action)) && strings.EqualFold(string(a.Proto), string(b.Proto)) &&
		strings.EqualFold(string(a.Macro), string(b.Macro)) && samePorts(a.Dport, b.Dport) && samePorts(a.Sport, b.Sport) &&
		sameAddresses(a.Source, b.Source) && sameAddresses(a.Dest, b.Dest) && (a.Enable != 0) == (b.Enable != 0)
}

func samePorts(a, b vpsie.String) bool {
	norm := func(p vpsie.String) string { return strings.ReplaceAll(strings.TrimSpace(string(p)), "-", ":") }
	return norm(a) == norm(b)
}

func sameAddresses(a, b []vpsie.String) bool {
	return slices.Equal(normalized(a), normalized(b))
}

func normalized(list []vpsie.String) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if p, err := ParseSource(strings.TrimSpace(string(s))); err == nil {
			out = append(out, p.Masked().String())
		} else {
			out = append(out, string(s))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

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

package webhooks_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/webhooks"
)

// A firewall without the load balancer and without apiServerSources is allowed, with a warning that says who
// cannot reach the API server then.
func TestFirewallWithoutLoadBalancerWarns(t *testing.T) {
	g := NewWithT(t)
	c := validCluster("default", "fw")
	c.Spec.Network.VPC.CIDR = "10.42.0.0/16"
	c.Spec.Firewall.Enabled = ptr.To(true)
	c.Spec.ControlPlaneLoadBalancer.Enabled = ptr.To(false)
	c.Spec.ControlPlaneEndpoint.Host, c.Spec.ControlPlaneEndpoint.Port = "api.example.com", 6443
	warnings, err := webhooks.VPSieCluster{}.ValidateCreate(context.Background(), c)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warnings).To(ConsistOf(ContainSubstring("reachable only from inside the VPC")))

	c.Spec.Firewall.APIServerSources = []string{"198.51.100.0/24"}
	warnings, err = webhooks.VPSieCluster{}.ValidateUpdate(context.Background(), c, c)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warnings).To(BeEmpty())
}

// badFirewalls are the mistakes a user can make in spec.firewall and a machine's firewallGroups.
func badFirewalls() []badObject {
	var rows []badObject
	add := func(r ...badObject) { rows = append(rows, r...) }
	// firewall enables the firewall on a cluster with a VPC, then changes it.
	firewall := func(change func(*infrav1.FirewallSpec)) func(*infrav1.VPSieClusterSpec) {
		return func(s *infrav1.VPSieClusterSpec) {
			s.Network.VPC.CIDR = "10.42.0.0/16"
			s.Firewall.Enabled = ptr.To(true)
			change(&s.Firewall)
		}
	}
	rule := func(r infrav1.FirewallRuleSpec) func(*infrav1.FirewallSpec) {
		return func(f *infrav1.FirewallSpec) { f.Rules = append(f.Rules, r) }
	}
	https := infrav1.FirewallRuleSpec{Name: "https", Protocol: infrav1.FirewallProtocolTCP, Ports: "443", Sources: []string{"0.0.0.0/0"}}
	with := func(change func(*infrav1.FirewallRuleSpec)) infrav1.FirewallRuleSpec {
		r := https
		r.Sources = []string{"0.0.0.0/0"}
		change(&r)
		return r
	}

	add(clusterSpecRows("firewall without a VPC", "network.vpc", func(s *infrav1.VPSieClusterSpec) {
		s.Firewall.Enabled = ptr.To(true)
	}, "spec.firewall needs spec.network.vpc", "by the VPC's range")...)
	add(clusterSpecRows("SSH source that is a host name", "firewall.sshSources[0]", firewall(func(f *infrav1.FirewallSpec) {
		f.SSHSources = []string{"office.example.com"}
	}), "must be an IP address or a CIDR such as 203.0.113.0/24")...)
	add(clusterSpecRows("API server source with host bits", "firewall.apiServerSources[0]", firewall(func(f *infrav1.FirewallSpec) {
		f.APIServerSources = []string{"198.51.100.7/24"}
	}), "host bits must be zero: use 198.51.100.0/24 (or 198.51.100.7/32 for this address alone)")...)
	add(clusterSpecRows("NodePort source with a prefix too long", "firewall.nodePortSources[0]", firewall(func(f *infrav1.FirewallSpec) {
		f.NodePortSources = []string{"10.0.0.0/33"}
	}), "must be an IP address or a CIDR")...)
	add(clusterSpecRows("rule name with capitals", "firewall.rules[0].name", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Name = "HTTPS"
	}))), "lower-case letters, digits and '-'")...)
	add(clusterSpecRows("rule name of the provider's own", "firewall.rules[0].name", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Name = "capvpsie-ssh"
	}))), "names starting with capvpsie- are the provider's own rules")...)
	add(clusterSpecRows("rule port range written VPSie's way", "firewall.rules[0].ports", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Ports = "8000:8100"
	}))), `a range such as "8000-8100"`)...)
	add(clusterSpecRows("rule port range reversed", "firewall.rules[0].ports", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Ports = "8100-8000"
	}))), "the range starts after it ends: use 8000-8100")...)
	add(clusterSpecRows("rule port above 65535", "firewall.rules[0].ports", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Ports = "70000"
	}))), "ports are from 1 to 65535")...)
	add(clusterSpecRows("icmp rule with ports", "firewall.rules[0].ports", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Protocol, r.Ports = infrav1.FirewallProtocolICMP, "8"
	}))), "icmp has no ports: leave ports empty")...)
	add(clusterSpecRows("rule of an unknown protocol", "firewall.rules[0].protocol", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Protocol = "sctp"
	}))), `supported values: "tcp", "udp", "icmp"`)...)
	add(clusterSpecRows("rule without sources", "firewall.rules[0].sources", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Sources = nil
	}))), requiredHint)...)
	add(clusterSpecRows("rule source that is not an address", "firewall.rules[0].sources[0]", firewall(rule(with(func(r *infrav1.FirewallRuleSpec) {
		r.Sources = []string{"anywhere"}
	}))), "must be an IP address or a CIDR")...)
	add(clusterSpecRows("two rules of one name", "firewall.rules[1]", firewall(func(f *infrav1.FirewallSpec) {
		f.Rules = []infrav1.FirewallRuleSpec{https, https}
	}), "Duplicate value")...)

	add(machineSpecRows("firewall group with a space", "firewallGroups[0]", func(s *infrav1.VPSieMachineSpec) {
		s.FirewallGroups = []string{"team monitoring"}
	}, "a firewall group is named by its identifier", identifierHint)...)
	add(machineSpecRows("five firewall groups", "firewallGroups", func(s *infrav1.VPSieMachineSpec) {
		s.FirewallGroups = []string{"a", "b", "c", "d", "e"}
	}, "must have at most 4 items")...)
	return rows
}

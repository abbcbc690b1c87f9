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
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "203.0.113.7", want: "203.0.113.7/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "10.42.0.7/16", err: "host bits must be zero: use 10.42.0.0/16 (or 10.42.0.7/32 for this address alone)"},
		{in: "10.0.0.0/33", err: "must be an IP address or a CIDR"},
		{in: "fe80::1%eth0", err: "must be an IP address or a CIDR"},
		{in: "example.com", err: "must be an IP address or a CIDR"},
		{in: "", err: "must be an IP address or a CIDR"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			g := NewWithT(t)
			p, err := ParseSource(tc.in)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.String()).To(Equal(tc.want))
		})
	}
}

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "", want: ""},
		{in: "443", want: "443"},
		{in: "8000-8100", want: "8000:8100"},
		{in: "80-80", want: "80"},
		{in: "0", err: "from 1 to 65535"},
		{in: "65536", err: "from 1 to 65535"},
		{in: "8100-8000", err: "use 8000-8100"},
		{in: "8000:8100", err: `such as "8000-8100"`},
		{in: "http", err: `such as "443"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			g := NewWithT(t)
			got, err := ParsePorts(tc.in)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

// byComment indexes rules by direction and comment.
func byComment(rules []vpsie.FirewallRule) map[string]vpsie.FirewallRule {
	out := map[string]vpsie.FirewallRule{}
	for _, r := range rules {
		out[string(r.Direction)+" "+string(r.Comment)] = r
	}
	return out
}

func TestDesired(t *testing.T) {
	g := NewWithT(t)
	in := Inputs{
		Spec: infrav1.FirewallSpec{Enabled: ptr.To(true), APIServerSources: []string{"198.51.100.7", "198.51.100.7/32"},
			Rules: []infrav1.FirewallRuleSpec{
				{Name: "web", Protocol: infrav1.FirewallProtocolTCP, Ports: "8000-8100", Sources: []string{"0.0.0.0/0"}},
				{Name: "ping", Protocol: infrav1.FirewallProtocolICMP, Sources: []string{"192.0.2.0/24"}},
				{Name: "bad", Protocol: infrav1.FirewallProtocolICMP, Ports: "80", Sources: []string{"0.0.0.0/0"}},
			}},
		APIServerPort: 6443, LoadBalancerIP: "203.0.113.9", VPCCIDR: "10.42.0.0/16", PodCIDRs: []string{"192.168.0.0/16"},
	}
	rules := byComment(Desired(in))
	g.Expect(rules).To(HaveLen(10))
	g.Expect(rules).To(HaveKeyWithValue("in capvpsie-api-from-lb", vpsie.FirewallRule{Action: "ACCEPT", Direction: "in", Proto: "tcp",
		Dport: "6443", Source: []vpsie.String{"203.0.113.9/32"}, Enable: 1, Comment: "capvpsie-api-from-lb"}))
	g.Expect(rules["in capvpsie-api"].Source).To(Equal([]vpsie.String{"198.51.100.7/32"}), "duplicates collapse")
	g.Expect(rules["in capvpsie-vpc-udp"].Source).To(Equal([]vpsie.String{"10.42.0.0/16", "192.168.0.0/16"}))
	g.Expect(rules["in capvpsie-vpc-icmp"].Dport).To(BeEmpty())
	g.Expect(rules["in web"].Dport).To(Equal(vpsie.String("8000:8100")))
	g.Expect(rules["in ping"].Proto).To(Equal(vpsie.String("icmp")))
	g.Expect(rules).NotTo(HaveKey("in bad"), "a rule the webhook refuses is never sent")
	g.Expect(rules).NotTo(HaveKey("in capvpsie-ssh"), "no SSH unless asked for")
	g.Expect(rules).NotTo(HaveKey("in capvpsie-nodeports-tcp"), "no NodePorts unless asked for")
	for _, proto := range []string{"tcp", "udp", "icmp"} {
		g.Expect(rules["out capvpsie-egress-"+proto]).To(SatisfyAll(HaveField("Dest", BeEmpty()), HaveField("Action", vpsie.String("ACCEPT"))))
	}
	for _, r := range rules {
		if r.Direction == "in" {
			g.Expect(r.Source).NotTo(BeEmpty(), "an inbound rule without sources would accept everyone: %s", r.Comment)
		}
	}

	// Without a load balancer address the API server is open to its sources only.
	in.LoadBalancerIP, in.Spec.APIServerSources = "", nil
	g.Expect(byComment(Desired(in))).NotTo(HaveKey(HavePrefix("in capvpsie-api")))
}

func TestDiff(t *testing.T) {
	g := NewWithT(t)
	rule := func(id, dir, comment, dport string, sources ...vpsie.String) vpsie.FirewallRule {
		return vpsie.FirewallRule{Identifier: vpsie.String(id), Action: "ACCEPT", Direction: vpsie.String(dir), Proto: "tcp",
			Dport: vpsie.String(dport), Source: sources, Enable: 1, Comment: vpsie.String(comment)}
	}
	desired := []vpsie.FirewallRule{
		rule("", "in", "capvpsie-ssh", "22", "198.51.100.0/24"),
		rule("", "in", "capvpsie-api", "6443", "192.0.2.1/32", "192.0.2.2/32"),
		rule("", "in", "web", "8000:8100", "0.0.0.0/0"),
		rule("", "out", "capvpsie-egress-tcp", ""),
	}
	existing := []vpsie.FirewallRule{
		// The same, as VPSie may answer it: sources reordered, an address without /32, upper-case action.
		{Identifier: "a", Action: "accept", Direction: "in", Proto: "TCP", Dport: "6443", Source: []vpsie.String{"192.0.2.2", "192.0.2.1/32"},
			Enable: 1, Comment: "capvpsie-api"},
		rule("b", "in", "capvpsie-ssh", "22", "0.0.0.0/0"), // opened out of band
		rule("c", "in", "capvpsie-ssh", "22", "198.51.100.0/24"),
		rule("d", "in", "mysql", "3306", "0.0.0.0/0"), // added out of band
		rule("e", "in", "web", "8000-8100", "0.0.0.0/0"),
		rule("f", "out", "capvpsie-egress-tcp", ""),
	}
	c := Diff(existing, desired)
	g.Expect(c.Upsert).To(ConsistOf(rule("b", "in", "capvpsie-ssh", "22", "198.51.100.0/24")), "the first rule of the name is replaced")
	g.Expect(c.Remove).To(ConsistOf("c", "d"), "the duplicate and the stray rule go")

	g.Expect(Diff(desired, desired).Empty()).To(BeTrue())
	missing := Diff(existing[:1], desired)
	g.Expect(missing.Upsert).To(HaveLen(3))
	for _, r := range missing.Upsert {
		g.Expect(r.Identifier).To(BeEmpty(), "new rules carry no identifier: %s", r.Comment)
	}
}

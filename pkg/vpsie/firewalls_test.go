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

package vpsie_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// TestFirewallGroupsAgainstTheSimulator: the client's firewall calls speak what the simulator serves from
// VPSie's SDK: a group created without an id is found by name, its rules come back grouped by direction,
// rules are replaced by identifier and deleted, groups attach to and detach from servers, and delete sends
// the deleteStatistic VPSie requires.
func TestFirewallGroupsAgainstTheSimulator(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sim := vpsiesim.NewServer(vpsiesim.Options{Tokens: []string{"tok"}, AccountPassword: "pw", BootDelay: -1, Seed: 1})
	defer sim.Close()
	c, err := vpsie.New(vpsie.Config{BaseURL: sim.URL, Token: "tok", RequestsPerMinute: 60000, Burst: 100,
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond})
	g.Expect(err).NotTo(HaveOccurred())

	api := vpsie.FirewallRule{Action: "ACCEPT", Direction: "in", Proto: "tcp", Dport: "6443", Comment: "api server", Enable: 1,
		Source: []vpsie.String{"0.0.0.0/0"}}
	vpc := vpsie.FirewallRule{Action: "ACCEPT", Direction: "in", Proto: "tcp", Dport: "1:65535", Comment: "Custom", Enable: 1,
		Source: []vpsie.String{"10.42.0.0/16"}}
	g.Expect(c.CreateFirewallGroup(ctx, "capvpsie-demo-fw", []vpsie.FirewallRule{api, vpc})).To(Succeed())
	groups, err := c.ListFirewallGroups(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	found := vpsie.FindFirewallGroupsByName(groups, "capvpsie-demo-fw")
	g.Expect(found).To(HaveLen(1))
	id := string(found[0].Identifier)
	g.Expect(found[0].Rules).To(HaveLen(2))
	g.Expect(found[0].Rules[0].Identifier).NotTo(BeEmpty())

	replaced := found[0].Rules[0]
	replaced.Source = []vpsie.String{"203.0.113.0/24"}
	egress := vpsie.FirewallRule{Action: "ACCEPT", Direction: "out", Proto: "udp", Dport: "53", Comment: "dns", Enable: 1}
	g.Expect(c.UpdateFirewallRules(ctx, id, []vpsie.FirewallRule{replaced, egress})).To(Succeed())
	got, err := c.GetFirewallGroup(ctx, id)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Rules).To(HaveLen(3))
	g.Expect(got.Rules).To(ContainElement(HaveField("Source", []vpsie.String{"203.0.113.0/24"})))
	g.Expect(got.Rules).To(ContainElement(HaveField("Direction", vpsie.String("out"))))
	var out []string
	for _, r := range got.Rules {
		if r.Direction == "out" {
			out = append(out, string(r.Identifier))
		}
	}
	g.Expect(c.DeleteFirewallRules(ctx, id, out)).To(Succeed())
	got, _ = c.GetFirewallGroup(ctx, id)
	g.Expect(got.Rules).To(HaveLen(2))

	g.Expect(c.CreateVM(ctx, vpsie.CreateVMRequest{ResourceIdentifier: vpsiesim.DefaultPlan, OSIdentifier: vpsiesim.DefaultImage,
		DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: "fw-node"})).To(Succeed())
	var vm vpsie.VM
	g.Eventually(func() int {
		vms, _ := c.ListVMs(ctx, vpsie.ListVMsOptions{})
		for _, v := range vms {
			vm = v
		}
		return len(vms)
	}, 5*time.Second, 20*time.Millisecond).Should(Equal(1))
	g.Expect(c.AttachFirewallGroup(ctx, string(vm.Identifier), id)).To(Succeed())
	got, _ = c.GetFirewallGroup(ctx, id)
	g.Expect(got.VMs).To(ConsistOf(HaveField("Identifier", vm.Identifier)))
	g.Expect(c.DetachFirewallGroup(ctx, string(vm.Identifier), id)).To(Succeed())
	g.Expect(c.DeleteFirewallGroup(ctx, id, "cluster deleted", "")).To(Succeed())
	_, err = c.GetFirewallGroup(ctx, id)
	g.Expect(vpsie.IsNotFound(err)).To(BeTrue(), "%v", err)
}

// TestFirewallRulesDecodeBothShapes: the newest SDK reads rules as {inBound, outBound}, older ones as a flat
// list; both decode, and null is no rules.
func TestFirewallRulesDecodeBothShapes(t *testing.T) {
	g := NewWithT(t)
	for _, body := range []string{
		`{"rules":{"inBound":[{"type":"in","dport":"22","comment":"ssh"}],"outBound":[{"type":"out","dport":"53","comment":"dns"}]}}`,
		`{"rules":[{"type":"in","dport":22,"comment":"ssh"},{"type":"out","dport":"53","comment":"dns"}]}`,
	} {
		var grp vpsie.FirewallGroup
		g.Expect(json.Unmarshal([]byte(body), &grp)).To(Succeed(), body)
		g.Expect(grp.Rules).To(HaveLen(2))
		g.Expect(grp.Rules[0].Dport).To(Equal(vpsie.String("22")), "a port may come as a number")
		g.Expect(grp.Rules[1].Direction).To(Equal(vpsie.String("out")))
	}
	var grp vpsie.FirewallGroup
	g.Expect(json.Unmarshal([]byte(`{"rules":null}`), &grp)).To(Succeed())
	g.Expect(grp.Rules).To(BeEmpty())
}

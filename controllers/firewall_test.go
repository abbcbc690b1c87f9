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

package controllers

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// withFirewall gives a cluster a VPC and a firewall group with SSH from one network and a user rule.
func withFirewall(c *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
	c.Spec.ClusterNetwork.Pods.CIDRBlocks = []string{"192.168.0.0/16"}
	vc.Spec.Network.VPC.CIDR = "10.42.0.0/16"
	vc.Spec.Firewall = infrav1.FirewallSpec{
		Enabled:    ptr.To(true),
		SSHSources: []string{"198.51.100.0/24"},
		Rules: []infrav1.FirewallRuleSpec{{Name: "ingress-https", Protocol: infrav1.FirewallProtocolTCP,
			Ports: "443", Sources: []string{"0.0.0.0/0"}}},
	}
}

// clusterGroup is the simulator's copy of the cluster's firewall group; it fails unless there is exactly one.
func clusterGroup(g Gomega, sim *vpsiesim.Server, name string) vpsiesim.FirewallGroup {
	var found []vpsiesim.FirewallGroup
	for _, grp := range sim.FirewallGroups() {
		if grp.Name == name {
			found = append(found, grp)
		}
	}
	g.ExpectWithOffset(1, found).To(HaveLen(1), "firewall groups named %s", name)
	return found[0]
}

// inboundRules maps the comment of each inbound rule to its protocol, port and sources.
func inboundRules(grp vpsiesim.FirewallGroup) map[string][]string {
	out := map[string][]string{}
	for _, r := range grp.Rules {
		if r.Type == "in" && r.Action == "ACCEPT" {
			out[r.Comment] = append([]string{r.Proto, r.Dport}, r.Source...)
		}
	}
	return out
}

// TestVPSieClusterFirewall: the cluster's group is created once with the rules the spec asks for, attached to
// every new server before it counts as provisioned, re-attached when detached out of band, its rules put back
// when changed out of band and changed when the spec changes; deleting the cluster leaves neither the group nor
// the VPC behind.
func TestVPSieClusterFirewall(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	api := simClient(t, sim)
	cluster, vc := readyCluster(t, ns, withFirewall)
	name := scope.ClusterResourceName(testIdentity, ns, "demo")
	g.Expect(len(name)).To(BeNumerically("<=", scope.FirewallGroupNameMax))

	grp := clusterGroup(g, sim, name)
	g.Expect(vc.Status.Firewall).To(Equal(infrav1.FirewallStatus{Identifier: grp.Identifier, Name: name}))
	g.Expect(condition(vc, infrav1.FirewallReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.ProvisionedReason))
	g.Expect(inboundRules(grp)).To(Equal(map[string][]string{
		"capvpsie-api-from-lb": {"tcp", "6443", vc.Status.LoadBalancer.IP + "/32"},
		"capvpsie-ssh":         {"tcp", "22", "198.51.100.0/24"},
		"capvpsie-vpc-tcp":     {"tcp", "", "10.42.0.0/16", "192.168.0.0/16"},
		"capvpsie-vpc-udp":     {"udp", "", "10.42.0.0/16", "192.168.0.0/16"},
		"capvpsie-vpc-icmp":    {"icmp", "", "10.42.0.0/16", "192.168.0.0/16"},
		"ingress-https":        {"tcp", "443", "0.0.0.0/0"},
	}), "no API server rule from anywhere, no NodePorts: only what the spec asks for")
	g.Expect(grp.Rules).To(ContainElement(SatisfyAll(HaveField("Type", "out"), HaveField("Proto", "tcp"), HaveField("Dest", BeEmpty()))))
	g.Expect(sim.RequestCount("POST /apps/v2/firewall/create/group")).To(Equal(1))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, eventually, poll).Should(ContainElement("FirewallCreated"))

	// Every new server carries the group once it is provisioned.
	_, m1 := createMachine(t, cluster, "fw-cp-0", machineOptions{controlPlane: true})
	_, m2 := createMachine(t, cluster, "fw-md-0", machineOptions{})
	s1, s2 := waitProvisioned(t, m1).Status.ServerIdentifier, waitProvisioned(t, m2).Status.ServerIdentifier
	g.Expect(clusterGroup(g, sim, name).VMs).To(ConsistOf(s1, s2))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "fw-md-0") }, eventually, poll).Should(ContainElement("FirewallAttached"))

	// Detached out of band: attached again.
	g.Expect(api.DetachFirewallGroup(ctx, s2, grp.Identifier)).To(Succeed())
	g.Eventually(func(g Gomega) []string { return clusterGroup(g, sim, name).VMs }, eventually, poll).Should(ConsistOf(s1, s2))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, eventually, poll).Should(ContainElement("FirewallAttached"))

	// Rules changed out of band: SSH opened to anyone and a stray rule added. Both are put back.
	var ssh vpsiesim.FirewallRule
	for _, r := range clusterGroup(g, sim, name).Rules {
		if r.Comment == "capvpsie-ssh" {
			ssh = r
		}
	}
	g.Expect(api.UpdateFirewallRules(ctx, grp.Identifier, []vpsie.FirewallRule{
		{Identifier: vpsie.String(ssh.Identifier), Action: "ACCEPT", Direction: "in", Proto: "tcp", Dport: "22",
			Source: []vpsie.String{"0.0.0.0/0"}, Enable: 1, Comment: "capvpsie-ssh"},
		{Action: "ACCEPT", Direction: "in", Proto: "tcp", Dport: "3306", Source: []vpsie.String{"0.0.0.0/0"}, Enable: 1, Comment: "mysql"},
	})).To(Succeed())
	g.Eventually(func(g Gomega) map[string][]string { return inboundRules(clusterGroup(g, sim, name)) }, eventually, poll).
		Should(SatisfyAll(HaveKeyWithValue("capvpsie-ssh", []string{"tcp", "22", "198.51.100.0/24"}), Not(HaveKey("mysql"))))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, eventually, poll).Should(ContainElement("FirewallRulesUpdated"))

	// The spec changes: NodePorts opened to one network, SSH closed.
	cur := getVPSieCluster(g, ns, "demo")
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Firewall.SSHSources = nil
	cur.Spec.Firewall.NodePortSources = []string{"203.0.113.7"}
	g.Expect(k8s.Patch(ctx, cur, patch)).To(Succeed())
	g.Eventually(func(g Gomega) map[string][]string { return inboundRules(clusterGroup(g, sim, name)) }, eventually, poll).
		Should(SatisfyAll(Not(HaveKey("capvpsie-ssh")),
			HaveKeyWithValue("capvpsie-nodeports-tcp", []string{"tcp", "30000:32767", "203.0.113.7/32"}),
			HaveKeyWithValue("capvpsie-nodeports-udp", []string{"udp", "30000:32767", "203.0.113.7/32"})))
	g.Expect(sim.RequestCount("POST /apps/v2/firewall/create/group")).To(Equal(1), "rules are changed in place")

	// Deletion: the machines go, then the group and the VPC.
	deleteMachine(t, m1)
	deleteMachine(t, m2)
	g.Expect(k8s.Delete(ctx, vc)).To(Succeed())
	waitDeleted(t, vc)
	g.Expect(sim.FirewallGroups()).To(BeEmpty())
	g.Expect(sim.VPCs()).To(BeEmpty())
	g.Expect(sim.LoadBalancers()).To(BeEmpty())
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, eventually, poll).Should(ContainElement("FirewallDeleted"))
}

// TestVPSieClusterFirewallAdoptsAndSurvivesLostCreates: a group of the cluster's name is adopted (no create) and
// its rules put right; a create whose answer is lost is not sent again, and the cluster deleted while the
// group is still unlisted leaves nothing behind.
func TestVPSieClusterFirewallAdoptsAndSurvivesLostCreates(t *testing.T) {
	t.Run("adopt", func(t *testing.T) {
		g := NewWithT(t)
		ns := newTestNamespace(t)
		sim := startSimulator(t, ns)
		name := scope.ClusterResourceName(testIdentity, ns, "demo")
		g.Expect(simClient(t, sim).CreateFirewallGroup(context.Background(), name, []vpsie.FirewallRule{
			{Action: "ACCEPT", Direction: "in", Proto: "tcp", Dport: "22", Source: []vpsie.String{"0.0.0.0/0"}, Enable: 1, Comment: "capvpsie-ssh"},
		})).To(Succeed())
		readyCluster(t, ns, withFirewall)
		g.Expect(sim.FirewallGroups()).To(HaveLen(1))
		g.Expect(sim.RequestCount("POST /apps/v2/firewall/create/group")).To(Equal(1), "the test's own")
		g.Expect(inboundRules(clusterGroup(g, sim, name))).To(HaveKeyWithValue("capvpsie-ssh", []string{"tcp", "22", "198.51.100.0/24"}))
	})

	t.Run("lost answer, deleted before listed", func(t *testing.T) {
		g := NewWithT(t)
		ctx := context.Background()
		ns := newTestNamespace(t)
		sim := startSimulator(t, ns, func(o *vpsiesim.Options) {
			o.Faults = vpsiesim.Faults{LostAnswerNext: 1, ListLag: 1500 * time.Millisecond,
				Routes: []string{"POST /apps/v2/firewall/create/group"}}
		})
		createCredentialsSecret(t, ns, "creds", nil)
		_, vc := createCluster(t, ns, "demo", "creds", withFirewall)
		g.Eventually(func() []vpsiesim.FirewallGroup { return sim.FirewallGroups() }, eventually, poll).Should(HaveLen(1))
		g.Expect(sim.Faults().LostAnswerNext).To(BeZero(), "the create's answer was lost")
		// Deleted while VPSie does not list the group yet: the cluster waits for it, deletes it, then goes.
		g.Expect(k8s.Delete(ctx, vc)).To(Succeed())
		g.Eventually(func(g Gomega) {
			cur := &infrav1.VPSieCluster{}
			err := k8s.Get(ctx, client.ObjectKeyFromObject(vc), cur)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "conditions: %+v", cur.Status.Conditions)
		}, eventually, poll).Should(Succeed())
		g.Expect(sim.FirewallGroups()).To(BeEmpty())
		g.Expect(sim.VPCs()).To(BeEmpty())
		g.Expect(sim.RequestCount("POST /apps/v2/firewall/create/group")).To(Equal(1), "never created twice")
	})
}

// TestVPSieMachineExtraFirewallGroups: a machine's own groups are attached next to the cluster's, one at a time
// (VPSie fails attaches to one server close together); a group that does not exist is reported by name.
func TestVPSieMachineExtraFirewallGroups(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	api := simClient(t, sim)
	g.Expect(api.CreateFirewallGroup(ctx, "team-monitoring", nil)).To(Succeed())
	extra := ""
	for _, grp := range sim.FirewallGroups() {
		extra = grp.Identifier
	}
	cluster, _ := readyCluster(t, ns, withFirewall)

	_, m := createMachine(t, cluster, "fw-extra", machineOptions{mutateMachine: func(vm *infrav1.VPSieMachine) {
		vm.Spec.FirewallGroups = []string{extra}
	}})
	server := waitProvisioned(t, m).Status.ServerIdentifier
	for _, grp := range sim.FirewallGroups() {
		g.Expect(grp.VMs).To(ConsistOf(server), "group %s", grp.Name)
	}
	g.Expect(sim.RequestCount("POST /apps/v2/firewall/attach/group")).To(Equal(2), "one attach per group, none collided (ipSetNotCreated)")

	_, missing := createMachine(t, cluster, "fw-missing", machineOptions{mutateMachine: func(vm *infrav1.VPSieMachine) {
		vm.Spec.FirewallGroups = []string{"no-such-group"}
	}})
	g.Eventually(func(g Gomega) {
		c := condition(getVPSieMachine(g, missing), infrav1.ServerReadyCondition)
		g.Expect(c).To(haveCondition(metav1.ConditionFalse, infrav1.InvalidSpecReason))
		g.Expect(c.Message).To(ContainSubstring("firewall group no-such-group does not exist"))
	}, eventually, poll).Should(Succeed())
	g.Expect(ptr.Deref(getVPSieMachine(g, missing).Status.Initialization.Provisioned, false)).To(BeFalse())
}

// TestVPSieClusterFirewallTurnedOff: a group the spec no longer wants is detached and deleted.
func TestVPSieClusterFirewallTurnedOff(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns, withFirewall)
	_, m := createMachine(t, cluster, "fw-off", machineOptions{})
	waitProvisioned(t, m)
	g.Expect(sim.FirewallGroups()).To(HaveLen(1))

	cur := getVPSieCluster(g, ns, "demo")
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Firewall.Enabled = ptr.To(false)
	g.Expect(k8s.Patch(ctx, cur, patch)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getVPSieCluster(g, ns, "demo")
		g.Expect(condition(got, infrav1.FirewallReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.DisabledReason))
		g.Expect(got.Status.Firewall).To(BeZero())
	}, eventually, poll).Should(Succeed())
	g.Expect(sim.FirewallGroups()).To(BeEmpty())
	g.Expect(sim.VMs()).To(HaveLen(1), "the server stays")
	g.Expect(getVPSieMachine(g, m).Status.Initialization.Provisioned).To(HaveValue(BeTrue()))
}

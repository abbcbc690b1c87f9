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

// The reconcilers against a VPSie less tidy than the default simulator (test/vpsiesim's fault modes).

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// Item 5: VPSie applies a VPC attach asynchronously and refuses a second attach as "already attached". The
// machine sends one attach, waits for it, and is provisioned in the VPC.
func TestVPSieMachineJoinsTheVPCWithOneAttach(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns, func(o *vpsiesim.Options) {
		o.Faults = vpsiesim.Faults{AsyncVPCAttach: 2 * time.Second, AlreadyAttachedError: true}
	})
	cluster, vc := readyCluster(t, ns, func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.Network.VPC.CIDR = "10.42.0.0/16"
	})
	g.Expect(vc.Status.Network.VPCID).NotTo(BeEmpty())
	_, vm := createMachine(t, cluster, "worker-1", machineOptions{})
	cur := waitProvisioned(t, vm)
	g.Expect(sim.RequestCount("POST /apps/v2/vm/add/vpc")).To(Equal(1), "one attach, waited for, not re-sent")
	server, ok := sim.VM(cur.Status.ServerIdentifier)
	g.Expect(ok).To(BeTrue())
	g.Expect(server.PrivateIP).NotTo(BeEmpty(), "the server is in the VPC")
}

// Item 6: a load balancer create VPSie refused as invalid is not re-sent at every poll of the cluster (which
// the VPC, still waiting to be listed, keeps short).
func TestVPSieClusterRefusedCreateIsNotResentAtEveryPoll(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{ListLag: time.Hour} })
	createCredentialsSecret(t, ns, "creds", nil)
	createCluster(t, ns, "demo", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.Network.VPC.CIDR = "10.42.0.0/16" // listed only after an hour: the cluster polls every 200 ms
		vc.Spec.ControlPlaneLoadBalancer.Plan = "no-such-lb-plan"
	})
	g.Eventually(func(g Gomega) {
		c := condition(getVPSieCluster(g, ns, "demo"), infrav1.LoadBalancerReadyCondition)
		g.Expect(c).To(haveCondition(metav1.ConditionFalse, infrav1.InvalidSpecReason))
	}, eventually, poll).Should(Succeed())
	before := sim.RequestCount("POST /api/v1/lb/create")
	time.Sleep(3 * time.Second)
	g.Expect(before).To(Equal(1))
	g.Expect(sim.RequestCount("POST /api/v1/lb/create")).To(Equal(before), "the refusal is remembered")
	g.Expect(sim.RequestCount("POST /apps/v2/vpc/add")).To(Equal(1), "the VPC create is not repeated either")
}

// Item 9: a machine that waits does not rewrite its object at every poll: its condition messages name times,
// not elapsed durations.
func TestVPSieMachineWaitingDoesNotChurn(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)
	sim.SetFaults(vpsiesim.Faults{PendingLag: time.Hour}) // VPSie accepts the create, then shows the server nowhere
	_, vm := createMachine(t, cluster, "worker-1", machineOptions{})
	t.Cleanup(func() { // before the machine's deletion (cleanups run last first), which would wait for the server
		cur := &infrav1.VPSieMachine{}
		if k8s.Get(context.Background(), client.ObjectKeyFromObject(vm), cur) == nil {
			p := client.MergeFrom(cur.DeepCopy())
			cur.Annotations = mergeLabels(cur.Annotations, map[string]string{infrav1.SkipCloudCleanupAnnotation: "true"})
			_ = k8s.Patch(context.Background(), cur, p)
		}
		for _, v := range sim.PendingVMs() {
			_ = sim.VanishVM(v.Identifier)
		}
	})
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getVPSieMachine(g, vm), infrav1.ServerReadyCondition).Message).To(ContainSubstring("lists it neither"))
	}, eventually, poll).Should(Succeed())
	versions := map[string]bool{}
	cur := &infrav1.VPSieMachine{}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(vm), cur)).To(Succeed())
		versions[cur.ResourceVersion] = true
	}
	g.Expect(len(versions)).To(BeNumerically("<=", 2), "the object is not rewritten at every poll (%d versions in 3 s)", len(versions))
}

// A cluster deleted while VPSie lists its new load balancer, VPC and firewall group late (and its deleted ones
// late too) is gone once they are: the deletion found them listed, so the creates it waited for are done. (It
// used to wait intent.DefaultAcceptedPatience, 30 minutes, for a second load balancer after deleting the first.)
func TestVPSieClusterDeletedWhileListsLag(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{ListLag: 1500 * time.Millisecond} })
	createCredentialsSecret(t, ns, "creds", nil)
	_, vc := createCluster(t, ns, "demo", "creds", withFirewall)
	g.Eventually(func() int { return len(sim.FirewallGroups()) }, eventually, poll).Should(Equal(1))
	g.Expect(sim.LoadBalancers()).To(HaveLen(1))
	g.Expect(k8s.Delete(context.Background(), vc)).To(Succeed())
	waitDeleted(t, vc)
	g.Expect(sim.LoadBalancers()).To(BeEmpty())
	g.Expect(sim.FirewallGroups()).To(BeEmpty())
	g.Expect(sim.VPCs()).To(BeEmpty())
}

// An account whose API has no firewall groups (the routes answer 404, as VPSie answers an unknown route): a
// cluster without a firewall never calls them and is created and deleted as ever; one that asks for a firewall
// says why it cannot have one (InvalidSpec) and is still deleted.
func TestVPSieClusterWithoutFirewallRoutes(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	firewallRoutes := []string{"GET /apps/v2/firewall/groups", "GET /apps/v2/firewall/group/{id}",
		"POST /apps/v2/firewall/create/group", "POST /apps/v2/firewall/attach/group"}
	sim := startSimulator(t, ns, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{MissingRoutes: firewallRoutes} })
	createCredentialsSecret(t, ns, "creds", nil)
	_, plain := createCluster(t, ns, "plain", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.Network.VPC.CIDR = "10.42.0.0/16"
	})
	waitClusterReady(t, ns, "plain")
	g.Expect(k8s.Delete(context.Background(), plain)).To(Succeed())
	waitDeleted(t, plain)
	for _, route := range firewallRoutes {
		g.Expect(sim.RequestCount(route)).To(BeZero(), "a cluster without a firewall never calls %s", route)
	}

	_, walled := createCluster(t, ns, "walled", "creds", withFirewall)
	g.Eventually(func(g Gomega) {
		c := condition(getVPSieCluster(g, ns, "walled"), infrav1.FirewallReadyCondition)
		g.Expect(c).To(haveCondition(metav1.ConditionFalse, infrav1.InvalidSpecReason))
		g.Expect(c.Message).To(ContainSubstring("this account's API has no firewall groups"))
	}, eventually, poll).Should(Succeed())
	g.Expect(getVPSieCluster(g, ns, "walled").Status.Initialization.Provisioned).To(BeNil())
	g.Expect(k8s.Delete(context.Background(), walled)).To(Succeed())
	waitDeleted(t, walled)
	g.Expect(sim.VPCs()).To(BeEmpty())
	g.Expect(sim.LoadBalancers()).To(BeEmpty())
}

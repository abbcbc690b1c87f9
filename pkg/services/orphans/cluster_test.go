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

package orphans

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// vpcDescription is the description the provider gives a cluster's VPC (see scope.ClusterScope.OwnerMark).
func vpcDescription(identity, manager, cluster string) string {
	return "Cluster API cluster " + ns + "/" + cluster + " " +
		strings.Join(scope.OwnershipTags(identity, manager, ns, cluster), " ")
}

// A cluster whose VPSieCluster was deleted with leaks: its servers go first, its VPC, load balancer and
// firewall group at a later pass (the group detached from a server outside the cluster first). What only looks
// like its resources stays.
func TestOrphanClusterServersFirstThenVPCAndLB(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	vc := e.addCluster(clusterName, "creds")
	e.addCluster("alive", "creds")
	lbName := scope.ClusterResourceName(ours, ns, clusterName)
	vpc := e.addVPC(lbName, vpcDescription(ours, ours, clusterName))
	w1 := e.addVM("demo-w1", ourTags("w1")...)
	w2 := e.addVM("demo-w2", ourTags("w2")...)
	for _, vm := range []string{w1, w2} {
		g.Expect(e.api.AttachVPC(context.Background(), vm, vpc, vpsiesim.DefaultDatacenter)).To(Succeed())
	}
	lb := e.addLB(lbName)
	groupName := scope.FirewallGroupName(ours, ns, clusterName)
	group := e.addGroup(groupName)
	outsider := e.addVM("someone-elses", "web")
	g.Expect(e.api.AttachFirewallGroup(context.Background(), outsider, group)).To(Succeed())
	stayGroups := map[string]string{
		"group of another identity": e.addGroup(scope.FirewallGroupName(theirs, ns, clusterName)),
		"group of a live cluster":   e.addGroup(scope.FirewallGroupName(ours, ns, "alive")),
		"group of a similar name":   e.addGroup(groupName + "-x"),
	}
	stay := map[string]string{
		"lb similar name":        e.addLB(lbName + "-x"),
		"lb of another identity": e.addLB(scope.ClusterResourceName(theirs, ns, clusterName)),
		"lb of a live cluster":   e.addLB(scope.ClusterResourceName(ours, ns, "alive")),
	}
	stayVPCs := map[string]string{
		"vpc of another identity": e.addVPC("theirs", vpcDescription(theirs, theirs, clusterName)),
		"vpc of a live cluster":   e.addVPC("alive", vpcDescription(ours, ours, "alive")),
		"vpc without tags":        e.addVPC("plain", "my network"),
	}

	e.sweep()
	e.delete(vc) // its Secret is remembered: the account is still swept
	e.sweep()
	e.advance(time.Hour)
	r := e.sweep()
	g.Expect(kinds(r)).To(Equal([]string{KindServer, KindServer}), "servers first")
	g.Expect(e.vmLive(w1) || e.vmLive(w2)).To(BeFalse())
	g.Expect(e.vpcExists(vpc) && e.lbExists(lb) && e.groupExists(group)).To(BeTrue(), "they wait for a pass that no longer lists the servers")

	e.advance(10 * time.Minute)
	r = e.sweep()
	g.Expect(r.Orphans).To(ConsistOf(
		Orphan{Kind: KindVPC, Name: lbName, ID: vpc, Owner: ns + "/" + clusterName, AbsentSince: e.now.Add(-70 * time.Minute), Deleted: true},
		Orphan{Kind: KindLoadBalancer, Name: lbName, ID: lb, Owner: ns + "/" + clusterName, AbsentSince: e.now.Add(-70 * time.Minute), Deleted: true},
		Orphan{Kind: KindFirewallGroup, Name: groupName, ID: group, Owner: ns + "/" + clusterName, AbsentSince: e.now.Add(-70 * time.Minute), Deleted: true},
	))
	g.Expect(e.vpcExists(vpc) || e.lbExists(lb) || e.groupExists(group)).To(BeFalse())
	g.Expect(e.vmLive(outsider)).To(BeTrue(), "the server outside the cluster stays")

	e.advance(10 * time.Hour)
	g.Expect(e.sweep().Orphans).To(BeEmpty())
	for what, id := range stay {
		g.Expect(e.lbExists(id)).To(BeTrue(), what)
	}
	for what, id := range stayVPCs {
		g.Expect(e.vpcExists(id)).To(BeTrue(), what)
	}
	for what, id := range stayGroups {
		g.Expect(e.groupExists(id)).To(BeTrue(), what)
	}
}

// A cluster moved to another manager (a server carries our owner tag and its claim) keeps its servers, VPC
// and load balancer, also once the claimed server is gone.
func TestHandedOffClusterStays(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	vc := e.addCluster(clusterName, "creds")
	name := scope.ClusterResourceName(ours, ns, clusterName)
	vpc := e.addVPC(name, vpcDescription(ours, ours, clusterName))
	lb := e.addLB(name)
	claimed := e.addVM("demo-w1", append(ourTags("w1"), scope.OwnerTag(theirs))...)
	e.sweep()
	e.delete(vc) // clusterctl move
	for range 5 {
		e.advance(time.Hour)
		g.Expect(e.sweep().Orphans).To(BeEmpty())
	}
	g.Expect(e.sim.VanishVM(claimed)).To(Succeed())
	for range 3 {
		e.advance(time.Hour)
		g.Expect(e.sweep().Orphans).To(BeEmpty())
	}
	g.Expect(e.vpcExists(vpc) && e.lbExists(lb)).To(BeTrue())
}

// The VPC of a gone VPSieCluster waits while a VPSieMachine of the cluster exists: its server is matched by
// hostname and its tags are not read, so the machine itself holds the cluster's resources back.
func TestClusterResourcesWaitForVPSieMachines(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	vc := e.addCluster(clusterName, "creds")
	vpc := e.addVPC("net", vpcDescription(ours, ours, clusterName))
	m := e.addMachine("w1", "demo-w1")
	vm := e.addVM("demo-w1", ourTags("w1")...)
	e.sweep()
	e.delete(vc)
	e.sweep()
	e.advance(2 * time.Hour)
	g.Expect(e.sweep().Orphans).To(BeEmpty())
	g.Expect(e.vpcExists(vpc) && e.vmLive(vm)).To(BeTrue())

	e.delete(m)
	e.sweep() // the server's machine is absent from now
	e.advance(time.Hour)
	g.Expect(kinds(e.sweep())).To(Equal([]string{KindServer}))
	e.advance(10 * time.Minute)
	g.Expect(kinds(e.sweep())).To(Equal([]string{KindVPC}))
}

// In report mode the whole orphaned cluster is reported at one pass (nothing is deleted, so waiting for the
// servers to go would hide its VPC and load balancer forever).
func TestReportModeReportsClusterResources(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.sweeper.Mode = ModeReport
	vc := e.addCluster(clusterName, "creds")
	name := scope.ClusterResourceName(ours, ns, clusterName)
	vpc := e.addVPC(name, vpcDescription(ours, ours, clusterName))
	lb := e.addLB(name)
	vm := e.addVM("demo-w1", ourTags("w1")...)
	e.sweep()
	e.delete(vc)
	e.sweep()
	e.advance(time.Hour)
	g.Expect(kinds(e.sweep())).To(Equal([]string{KindServer, KindVPC, KindLoadBalancer}))
	g.Expect(e.vmLive(vm) && e.vpcExists(vpc) && e.lbExists(lb)).To(BeTrue())
}

// A server whose tags cannot be read may be the cluster's: the VPC and load balancer wait until they can be.
func TestUnreadableServerTagsHoldBackVPC(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	vc := e.addCluster(clusterName, "creds")
	vpc := e.addVPC("net", vpcDescription(ours, ours, clusterName))
	e.sweep()
	e.delete(vc)
	e.sweep()
	e.sim.SetFaults(vpsiesim.Faults{MissingRoutes: []string{vmGet}})
	e.addVM("unknown") // untagged, as it turns out
	e.advance(2 * time.Hour)
	g.Expect(e.sweep().Orphans).To(BeEmpty())
	g.Expect(e.vpcExists(vpc)).To(BeTrue())
	e.sim.SetFaults(vpsiesim.Faults{})
	g.Expect(kinds(e.sweep())).To(Equal([]string{KindVPC}))
}

// An account whose API has no firewall groups (the list answers 404, as VPSie answers an unknown route) has none
// to sweep: a gone cluster's VPC is swept as ever, and the pass is complete.
func TestSweepWithoutFirewallRoutes(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	vc := e.addCluster(clusterName, "creds")
	vpc := e.addVPC("net", vpcDescription(ours, ours, clusterName))
	e.sim.SetFaults(vpsiesim.Faults{MissingRoutes: []string{"GET /apps/v2/firewall/groups"}})
	e.sweep()
	e.delete(vc)
	e.sweep()
	e.advance(2 * time.Hour)
	r := e.sweep()
	g.Expect(kinds(r)).To(Equal([]string{KindVPC}))
	g.Expect(e.vpcExists(vpc)).To(BeFalse())
	g.Expect(r.Errors).To(BeEmpty(), "a missing firewall route is no failed read")
}

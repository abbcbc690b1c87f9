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
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// A server that only we own, whose VPSieMachine is gone, is left alone for the grace period and deleted
// once it is over, with a note naming the gone machine.
func TestOrphanServerIsDeletedOnlyAfterGrace(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.addCluster(clusterName, "creds")
	id := e.addVM("demo-worker-1", ourTags("worker-1")...)
	deleted := found(KindServer, actionDeleted)

	g.Expect(e.sweep().Orphans).To(BeEmpty(), "first seen absent now")
	e.advance(59 * time.Minute)
	g.Expect(e.sweep().Orphans).To(BeEmpty(), "absent 59m < grace")
	g.Expect(e.vmLive(id)).To(BeTrue())

	e.advance(time.Minute)
	r := e.sweep()
	g.Expect(r.Orphans).To(ConsistOf(Orphan{Kind: KindServer, Name: "demo-worker-1", ID: id, Owner: ns + "/worker-1",
		AbsentSince: e.now.Add(-time.Hour), Deleted: true}))
	g.Expect(r.Accounts).To(Equal(1))
	g.Expect(e.vmLive(id)).To(BeFalse())
	g.Expect(found(KindServer, actionDeleted) - deleted).To(Equal(1.0))
	gone := e.sim.DeletedVMs()
	g.Expect(gone).To(HaveLen(1))
	g.Expect(gone[0].DeleteReason).To(Equal(vpsie.DefaultDeleteReason))
	g.Expect(gone[0].DeleteNote).To(ContainSubstring("VPSieMachine default/worker-1 is gone"))
}

// In report mode an orphan is logged and counted at every pass, and left where it is.
func TestReportModeOnlyReports(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.sweeper.Mode = ModeReport
	e.addCluster(clusterName, "creds")
	id := e.addVM("demo-worker-1", ourTags("worker-1")...)
	reported := found(KindServer, actionReported)

	e.sweep()
	e.advance(2 * time.Hour)
	r := e.sweep()
	g.Expect(r.Orphans).To(HaveLen(1))
	g.Expect(r.Orphans[0].Deleted).To(BeFalse())
	e.advance(10 * time.Minute)
	g.Expect(e.sweep().Orphans).To(HaveLen(1))
	g.Expect(e.vmLive(id)).To(BeTrue())
	g.Expect(e.sim.RequestCount(vmDelete)).To(BeZero())
	g.Expect(found(KindServer, actionReported) - reported).To(Equal(2.0))
}

// Servers that are not provably ours alone with a gone owner are never deleted, however long the sweep runs.
func TestServersThatAreNotOrphansStay(t *testing.T) {
	cluster := scope.TagCluster + ns + "/" + clusterName
	cases := map[string]struct {
		tags []string
		// machine is a VPSieMachine to create: name and status.hostname.
		machine, hostname string
	}{
		"foreign owner":              {tags: []string{scope.TagManaged, scope.OwnerTag(theirs), cluster, scope.TagMachine + "w"}},
		"ours and a claim":           {tags: append(ourTags("w"), scope.OwnerTag(theirs))},
		"untagged":                   {},
		"owner tag but not managed":  {tags: []string{scope.OwnerTag(ours), cluster, scope.TagMachine + "w"}},
		"managed without owner tag":  {tags: []string{scope.TagManaged, cluster, scope.TagMachine + "w"}},
		"no machine tag":             {tags: []string{scope.TagManaged, scope.OwnerTag(ours), cluster}},
		"no cluster tag":             {tags: []string{scope.TagManaged, scope.OwnerTag(ours), scope.TagMachine + "w"}},
		"machine exists":             {tags: ourTags("w"), machine: "w"},
		"machine exists by hostname": {tags: ourTags("renamed"), machine: "w", hostname: "SRV-1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			e := newEnv(t)
			e.addCluster(clusterName, "creds")
			if tc.machine != "" {
				e.addMachine(tc.machine, tc.hostname)
			}
			id := e.addVM("srv-1", tc.tags...)
			for range 4 {
				g.Expect(e.sweep().Orphans).To(BeEmpty())
				e.advance(5 * time.Hour)
			}
			g.Expect(e.vmLive(id)).To(BeTrue())
			g.Expect(e.sim.RequestCount(vmDelete)).To(BeZero())
			if tc.hostname != "" {
				g.Expect(e.sim.RequestCount(vmGet)).To(BeZero(), "a machine's own server needs no GetVM")
			} else {
				g.Expect(e.sim.RequestCount(vmGet)).To(Equal(1), "tags are read once and kept")
			}
		})
	}
}

// A VPSieMachine that exists again at one pass resets its grace: absence must be continuous.
func TestReappearingMachineResetsGrace(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.addCluster(clusterName, "creds")
	id := e.addVM("demo-worker-1", ourTags("worker-1")...)

	e.sweep() // absent since t0
	e.advance(50 * time.Minute)
	m := e.addMachine("worker-1", "")
	e.sweep() // present: forgotten
	e.delete(m)
	e.advance(20 * time.Minute)
	e.sweep() // absent since t0+70m
	e.advance(50 * time.Minute)
	g.Expect(e.sweep().Orphans).To(BeEmpty(), "absent 50m since it reappeared, though 120m since first seen absent")
	g.Expect(e.vmLive(id)).To(BeTrue())
	e.advance(10 * time.Minute)
	g.Expect(kinds(e.sweep())).To(Equal([]string{KindServer}))
	g.Expect(e.vmLive(id)).To(BeFalse())
}

// Tags are cached, but a server about to be deleted is read again: a claim added after the first read, by
// the manager the cluster was moved to, saves it.
func TestClaimAddedAfterFirstReadIsSeen(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.addCluster(clusterName, "creds")
	id := e.addVM("demo-worker-1", ourTags("worker-1")...)
	e.sweep()
	g.Expect(e.api.AddVMTags(context.Background(), id, []string{scope.OwnerTag(theirs)})).To(Succeed())
	e.advance(30 * time.Minute)
	e.sweep()
	g.Expect(e.sim.RequestCount(vmGet)).To(Equal(1), "cached while the grace runs")
	e.advance(time.Hour)
	g.Expect(e.sweep().Orphans).To(BeEmpty())
	g.Expect(e.vmLive(id)).To(BeTrue())
	g.Expect(e.sim.RequestCount(vmGet)).To(Equal(2), "read again before deciding")
	e.advance(time.Hour)
	e.sweep()
	g.Expect(e.sim.RequestCount(vmGet)).To(Equal(2), "a claimed server is not a candidate any more")
}

// A failing server list decides nothing for the account: nothing is deleted, not even what an earlier pass
// could see. The first-seen time survives, so the next good pass deletes at once.
func TestFailingServerListDeletesNothing(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	vc := e.addCluster(clusterName, "creds")
	vmID := e.addVM("demo-worker-1", ourTags("worker-1")...)
	vpcID := e.addVPC("net", "capvpsie-managed capvpsie-owner:"+theirs+" capvpsie-cluster:"+ns+"/other") // not ours
	ourVPC := e.addVPC("ours", "capvpsie-managed capvpsie-owner:"+ours+" capvpsie-cluster:"+ns+"/other")
	e.sweep()
	e.delete(vc) // the Secret is remembered
	e.sweep()
	e.advance(3 * time.Hour)

	errs, vpcLists := sweepErrorCount(opListVMs), e.sim.RequestCount("GET /apps/v2/vpc")
	e.sim.SetFaults(vpsiesim.Faults{HTMLErrorRate: 1, Routes: []string{vmList}})
	r, err := e.sweeper.Sweep(context.Background())
	g.Expect(err).To(HaveOccurred())
	g.Expect(r.Orphans).To(BeEmpty())
	g.Expect(r.Skipped).To(Equal(1))
	g.Expect(sweepErrorCount(opListVMs) - errs).To(Equal(1.0))
	g.Expect(e.sim.RequestCount(vmDelete)).To(BeZero())
	g.Expect(e.sim.RequestCount("GET /apps/v2/vpc")).To(Equal(vpcLists), "the account is skipped as a whole")
	g.Expect(e.vmLive(vmID)).To(BeTrue())
	g.Expect(e.vpcExists(ourVPC)).To(BeTrue())

	e.sim.SetFaults(vpsiesim.Faults{})
	g.Expect(kinds(e.sweep())).To(Equal([]string{KindServer, KindVPC}), "the VPC of default/other has no server")
	g.Expect(e.vmLive(vmID)).To(BeFalse())
	g.Expect(e.vpcExists(ourVPC)).To(BeFalse())
	g.Expect(e.vpcExists(vpcID)).To(BeTrue())
}

// Two Secrets holding the same credentials are one account: it is listed once per pass, and its orphan
// deleted once.
func TestSameCredentialsAreSweptOnce(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.addSecret("creds-copy", testToken, testPassword)
	e.addCluster(clusterName, "creds")
	e.addCluster("other", "creds-copy")
	e.addVM("demo-worker-1", ourTags("worker-1")...)

	r := e.sweep()
	g.Expect(r.Accounts).To(Equal(1))
	g.Expect(e.sim.RequestCount(vmList)).To(Equal(1))
	e.advance(time.Hour)
	r = e.sweep()
	g.Expect(kinds(r)).To(Equal([]string{KindServer}))
	g.Expect(e.sim.RequestCount(vmList)).To(Equal(2))
	g.Expect(e.sim.RequestCount(vmDelete)).To(Equal(1))
}

// A failed delete is counted and the pass goes on with the next orphan.
func TestFailedDeleteGoesOn(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.addSecret("wrong-password", testToken, "not-it")
	e.addCluster(clusterName, "wrong-password")
	a := e.addVM("demo-worker-1", ourTags("worker-1")...)
	b := e.addVM("demo-worker-2", ourTags("worker-2")...)
	e.sweep()
	e.advance(time.Hour)
	errs, failed := sweepErrorCount(opDeleteVM), found(KindServer, actionFailed)
	r, err := e.sweeper.Sweep(context.Background())
	g.Expect(err).To(MatchError(ContainSubstring("deleting orphaned server")))
	g.Expect(r.Orphans).To(HaveLen(2))
	g.Expect(r.Errors).To(HaveLen(2))
	g.Expect(e.sim.RequestCount(vmDelete)).To(Equal(2), "both were tried")
	g.Expect(sweepErrorCount(opDeleteVM) - errs).To(Equal(2.0))
	g.Expect(found(KindServer, actionFailed) - failed).To(Equal(2.0))
	g.Expect(e.vmLive(a) && e.vmLive(b)).To(BeTrue())
}

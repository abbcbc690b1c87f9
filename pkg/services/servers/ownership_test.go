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

package servers

// Item 10: two management clusters on one VPSie account, and a cluster moved from one to the other.

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// otherManager is another management cluster's manager on the same account: its own process state, its own
// identity recorded on its own objects (same namespace and names).
func (e *env) otherManager(identity string) *env {
	o := *e
	o.identity, o.manager = identity, identity
	o.restart()
	return &o
}

// simTags are the tags the simulator holds for a server.
func simTags(e *env, id string) []string {
	vm, _ := e.sim.VM(id)
	return vm.Tags
}

// deleteUntilDone runs deletion passes until done, each seeing a new list.
func deleteUntilDone(t *testing.T, e *env, svc func() *Service) {
	t.Helper()
	e.observer = &Observer{Window: time.Millisecond}
	NewWithT(t).Eventually(func() bool {
		done, _, err := svc().Delete(context.Background())
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		return done
	}, 5*time.Second, 20*time.Millisecond).Should(BeTrue())
}

// Same namespace, same cluster, same machine name in two management clusters: two servers, and deleting one
// machine deletes only its own server.
func TestTwoManagementClustersKeepTheirOwnServers(t *testing.T) {
	g := NewWithT(t)
	a := newEnv(t, vpsiesim.Options{BootDelay: -1})
	b := a.otherManager("mgmt-b")
	sa := a.machineScope(t, "worker-1")
	sb := b.machineScope(t, "worker-1")
	g.Expect(sa.Hostname()).NotTo(Equal(sb.Hostname()), "the identity is part of the hostname")

	reconcileUntilRunning(t, a, sa)
	reconcileUntilRunning(t, b, sb)
	g.Expect(a.sim.RequestCount("POST /api/v2/vm")).To(Equal(2), "b created its own server instead of adopting a's")
	g.Expect(sa.ServerIdentifier()).NotTo(Equal(sb.ServerIdentifier()))
	g.Expect(simTags(a, sb.ServerIdentifier())).To(ContainElement("capvpsie-owner:mgmt-b"))

	deleteUntilDone(t, b, func() *Service { return b.service(sb) })
	g.Expect(liveVMs(a, sa.Hostname())).To(Equal(1), "a's server survives the deletion of b's machine")
	g.Expect(liveVMs(a, sb.Hostname())).To(BeZero())
}

// A server with our hostname that another identity owns (two managers given one identity by mistake, or
// objects restored with another's annotation) is neither adopted, duplicated nor deleted.
func TestForeignServerWithOurHostnameIsLeftAlone(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := e.machineScope(t, "worker-1")
	g.Expect(e.account.API.CreateVM(context.Background(), vpsie.CreateVMRequest{
		ResourceIdentifier: vpsiesim.DefaultPlan, OSIdentifier: vpsiesim.DefaultImage, DcIdentifier: vpsiesim.DefaultDatacenter,
		Hostname: s.Hostname(), Tags: []string{"capvpsie-managed", "capvpsie-owner:mgmt-z"},
	})).To(Succeed())
	g.Eventually(func() []vpsiesim.VM { return e.sim.VMs() }, 5*time.Second, 20*time.Millisecond).Should(HaveLen(1))

	e.observer.Window = time.Millisecond
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).To(MatchError(services.ErrTerminal))
	g.Expect(err).To(MatchError(ContainSubstring("belongs to management cluster mgmt-z")))
	g.Expect(s.ServerIdentifier()).To(BeEmpty(), "not adopted")
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(1), "and no second server next to it")

	deleteUntilDone(t, e, func() *Service { return e.service(s) })
	g.Expect(e.sim.RequestCount("DELETE /api/v2/vm")).To(BeZero(), "deleting the machine does not delete another's server")
	g.Expect(e.sim.VMs()).To(HaveLen(1))
}

// A cluster moved to another management cluster keeps its names (the recorded identity) and its servers get
// the new manager's claim, so the source's orphan sweep leaves them alone.
func TestMovedClusterServersAreClaimed(t *testing.T) {
	g := NewWithT(t)
	source := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := source.machineScope(t, "worker-1")
	reconcileUntilRunning(t, source, s)

	target := source.otherManager("mgmt-b")
	target.identity = "mgmt-a" // the annotation moved with the VPSieCluster
	moved := target.machineScope(t, "worker-1")
	g.Expect(moved.Hostname()).To(Equal(s.Hostname()), "names follow the recorded identity, not the manager")
	moved.VPSieMachine.Spec.ProviderID = s.VPSieMachine.Spec.ProviderID
	moved.VPSieMachine.Status = s.VPSieMachine.Status
	_, err := target.service(moved).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(simTags(source, s.ServerIdentifier())).To(ContainElements("capvpsie-owner:mgmt-a", "capvpsie-owner:mgmt-b"))
	_, err = target.service(moved).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(source.sim.RequestCount("POST /api/v2/vm/addtags")).To(Equal(1), "claimed once")
	g.Expect(source.sim.RequestCount("POST /api/v2/vm")).To(Equal(1), "adopted, not created")
}

const getVMRoute = "GET /api/v2/vm/{identifier}"

// The server this process's own create made is adopted without a GET of its tags (it carries the ones the
// create sent): that GET was as many calls as the creates themselves. A process that did not send the create
// (here: after a restart) reads them.
func TestOwnCreateIsAdoptedWithoutReadingItsTags(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := e.machineScope(t, "worker-1")
	reconcileUntilRunning(t, e, s)
	g.Expect(e.sim.RequestCount(getVMRoute)).To(BeZero(), "no tag read of our own server")
	tags, err := e.observer.serverTags().Get(context.Background(), e.account, s.ServerIdentifier(), false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tags).To(ContainElement("capvpsie-owner:mgmt-a"), "its tags are known all the same")
	g.Expect(simTags(e, s.ServerIdentifier())).To(ContainElements(tags), "and they are the server's")

	e.restart()
	again := e.machineScope(t, "worker-1")
	reconcileUntilRunning(t, e, again)
	g.Expect(again.ServerIdentifier()).To(Equal(s.ServerIdentifier()))
	g.Expect(e.sim.RequestCount(getVMRoute)).To(Equal(1), "adopting a server it did not create, a process reads its tags")
}

// A machine named before identities were recorded (its hostname does not hash one in) gets no shortcut: a
// foreign server of the same name that VPSie hid at the lookup before our create, and shows before ours, is
// read and left alone, and ours is adopted.
func TestLegacyNamedMachineReadsTagsEvenAfterItsOwnCreate(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	e.identity, e.manager = "", ""
	s := e.machineScope(t, "worker-1")
	e.sim.SetFaults(vpsiesim.Faults{PendingLag: 300 * time.Millisecond})
	g.Expect(e.account.API.CreateVM(context.Background(), vpsie.CreateVMRequest{
		ResourceIdentifier: vpsiesim.DefaultPlan, OSIdentifier: vpsiesim.DefaultImage, DcIdentifier: vpsiesim.DefaultDatacenter,
		Hostname: s.Hostname(), Tags: []string{"capvpsie-managed", "capvpsie-owner:mgmt-z"},
	})).To(Succeed())
	e.sim.SetFaults(vpsiesim.Faults{PendingLag: 2 * time.Second}) // ours shows well after the foreign one

	e.observer.Window = time.Millisecond
	res, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Server).To(BeNil())
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(2), "the foreign server was hidden: ours was created")

	g.Eventually(func() string {
		_, _ = e.service(s).Reconcile(context.Background()) // refused while only the foreign one shows
		return s.ServerIdentifier()
	}, 10*time.Second, 50*time.Millisecond).ShouldNot(BeEmpty())
	g.Expect(simTags(e, s.ServerIdentifier())).NotTo(ContainElement("capvpsie-owner:mgmt-z"), "ours was adopted, not the foreign one")
	g.Expect(e.sim.VMsByHostname(s.Hostname())).To(HaveLen(2), "the foreign server is left alone")
}

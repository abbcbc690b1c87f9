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

// Tests against a VPSie less tidy than the default simulator: each one is a way the real API may misbehave
// (test/vpsiesim's fault modes) that once made the provider create a duplicate or leak a server.

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// reload is what a restarted controller sees of a machine: the VPSieMachine as the API server stored it. A
// reconcile that crashed never wrote what it had only in memory.
func reload(t *testing.T, s *scope.MachineScope) *scope.MachineScope {
	t.Helper()
	g := NewWithT(t)
	vm := &infrav1.VPSieMachine{}
	g.Expect(s.Client.Get(context.Background(), client.ObjectKeyFromObject(s.VPSieMachine), vm)).To(Succeed())
	fresh, err := scope.NewMachineScope(scope.MachineScopeParams{Client: s.Client, Cluster: s.Cluster, Machine: s.Machine,
		VPSieCluster: s.VPSieCluster, VPSieMachine: vm, Account: s.Account, Manager: s.Manager})
	g.Expect(err).NotTo(HaveOccurred())
	return fresh
}

// liveVMs counts the simulator's live servers (pending, listed or hidden) with a hostname.
func liveVMs(e *env, hostname string) int {
	n := 0
	for _, vm := range e.sim.VMsByHostname(hostname) {
		if vm.Live() {
			n++
		}
	}
	return n
}

// Item 1: a create answered 429 created nothing; it is sent again as soon as the budget allows, not held
// for the create grace as if the server might exist.
func TestCreateAnswered429IsSentAgainAtOnce(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := e.machineScope(t, "worker-1")
	// The next requests after the lookups are refused: the window holds only the pending and VM lists.
	e.sim.SetFaults(vpsiesim.Faults{RateLimit: 2, RateLimitWindow: 500 * time.Millisecond})
	_, err := e.service(s).Reconcile(context.Background())
	_, limited := vpsie.IsRateLimited(err)
	g.Expect(limited).To(BeTrue(), "the create was refused with 429: %v", err)
	g.Expect(s.VPSieMachine.Status.CreateIntent).To(BeNil(), "a refused create leaves no intent")
	e.sim.SetFaults(vpsiesim.Faults{})
	reconcileUntilRunning(t, e, s)
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(2), "refused once, then created")
	g.Expect(liveVMs(e, s.Hostname())).To(Equal(1))
}

// Item 2: the controller dies after VPSie accepted the create and before the reconcile's status write, while
// VPSie shows the server neither in the pending queue nor in the list. The restarted controller must not
// create a second server.
func TestCrashAfterCreateDuringListGapCreatesNoDuplicate(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: 100 * time.Millisecond, Faults: vpsiesim.Faults{ListGap: 3 * time.Second}})
	s := e.machineScope(t, "worker-1")
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(1))

	e.restart() // crash: nothing of this reconcile's end was written
	s = reload(t, s)
	g.Eventually(func() int { return len(e.sim.PendingVMs()) }, 5*time.Second, 20*time.Millisecond).Should(BeZero(),
		"the server left the pending queue and is in the list gap")
	e.observer.Window = time.Millisecond // every reconcile reads VPSie anew
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		_, err := e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		time.Sleep(50 * time.Millisecond)
	}
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(1), "no second create while VPSie hides the server")
	reconcileUntilRunning(t, e, s)
	g.Expect(liveVMs(e, s.Hostname())).To(Equal(1))
}

// Item 3: a machine deleted while its accepted server is not shown anywhere (list gap) must wait for it and
// delete it, not report done and leave it billed.
func TestDeleteWhileHiddenWaitsAndDeletes(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: 100 * time.Millisecond, Faults: vpsiesim.Faults{ListGap: 2 * time.Second}})
	s := e.machineScope(t, "worker-1")
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.PatchNow(context.Background())).To(Succeed()) // the reconcile ends normally

	e.restart()
	s = reload(t, s)
	e.observer.Window = time.Millisecond
	g.Eventually(func() int { return len(e.sim.PendingVMs()) }, 5*time.Second, 20*time.Millisecond).Should(BeZero())
	g.Eventually(func() bool {
		done, _, err := e.service(s).Delete(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		if done {
			g.Expect(liveVMs(e, s.Hostname())).To(BeZero(), "done only once the server is gone")
		}
		return done
	}, 10*time.Second, 50*time.Millisecond).Should(BeTrue())
	g.Expect(e.sim.DeletedVMs()).To(HaveLen(1))
}

// Item 4: a VM list whose pages are shorter than asked (with a total) is read to the end, so a server on a
// later page is adopted, not created again.
func TestServerOnALaterPageIsAdopted(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1, Faults: vpsiesim.Faults{PageCap: 10}})
	s := e.machineScope(t, "worker-1")
	api := e.account.API
	for i := range 25 {
		g.Expect(api.CreateVM(context.Background(), vpsie.CreateVMRequest{ResourceIdentifier: vpsiesim.DefaultPlan,
			OSIdentifier: vpsiesim.DefaultImage, DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: fmt.Sprintf("other-%02d", i)})).To(Succeed())
	}
	// The machine's own server, created by a controller whose status write was lost: last, on the third page.
	g.Expect(api.CreateVM(context.Background(), vpsie.CreateVMRequest{ResourceIdentifier: vpsiesim.DefaultPlan,
		OSIdentifier: vpsiesim.DefaultImage, DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: s.Hostname(),
		AddPublicIPv4: vpsie.Flag(true)})).To(Succeed())
	reconcileUntilRunning(t, e, s)
	g.Expect(liveVMs(e, s.Hostname())).To(Equal(1), "adopted, not created again")
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(26))
}

// Item 7: a GET of the server that answers "Not found" for the route (an account's API may lack it) is not
// proof the server is gone: the list still shows it, so it is deleted before the machine lets go.
func TestDeleteDoesNotTrustANotFoundRoute(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := e.machineScope(t, "worker-1")
	reconcileUntilRunning(t, e, s)
	e.sim.SetFaults(vpsiesim.Faults{MissingRoutes: []string{"GET /api/v2/vm/{identifier}"}})
	e.observer = &Observer{Window: time.Millisecond}
	g.Eventually(func() bool {
		done, _, err := e.service(s).Delete(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		return done
	}, 5*time.Second, 20*time.Millisecond).Should(BeTrue())
	g.Expect(liveVMs(e, s.Hostname())).To(BeZero(), "the server was deleted, not leaked")
}

// Item 8: duplicates (two servers for one hostname, from before this mechanism or another controller) are
// all deleted with the machine, not only the one it recorded.
func TestDeleteRemovesDuplicates(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := e.machineScope(t, "worker-1")
	reconcileUntilRunning(t, e, s)
	g.Expect(e.account.API.CreateVM(context.Background(), vpsie.CreateVMRequest{ResourceIdentifier: vpsiesim.DefaultPlan,
		OSIdentifier: vpsiesim.DefaultImage, DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: s.Hostname()})).To(Succeed())
	g.Expect(liveVMs(e, s.Hostname())).To(Equal(2))
	e.observer = &Observer{Window: time.Millisecond}
	g.Eventually(func() bool {
		done, _, err := e.service(s).Delete(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		return done
	}, 5*time.Second, 20*time.Millisecond).Should(BeTrue())
	g.Expect(liveVMs(e, s.Hostname())).To(BeZero())
}

// Item 12: a server listed right after its creation with power 0 and no address is booting, not stopped.
func TestUnpoweredFirstListingIsBooting(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1, Faults: vpsiesim.Faults{BootListedUnpowered: time.Hour}})
	s := e.machineScope(t, "worker-1")
	e.observer = &Observer{Window: time.Millisecond}
	g.Eventually(func() string {
		_, err := e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		return s.ServerIdentifier()
	}, 5*time.Second, 20*time.Millisecond).ShouldNot(BeEmpty())
	g.Expect(s.VPSieMachine.Status.ServerState).To(Equal(infrav1.ServerStateBooting))
}

// reconcileInRealTimeUntilRunning reconciles on the real clock, reading VPSie anew at every pass, until the
// server is running or the timeout passed; it returns whether it is running.
func reconcileInRealTimeUntilRunning(t *testing.T, e *env, s *scope.MachineScope, timeout time.Duration) bool {
	t.Helper()
	g := NewWithT(t)
	e.observer.Window = time.Millisecond
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		if res.Server != nil {
			return true
		}
	}
	return false
}

// Item 12: an HTML 502 on a create does not always cost the full create grace. Once this process has seen how
// soon VPSie shows the servers it creates, a gateway-answered create that the pending queue and the complete
// list then show nothing of is sent again after that window; one that did make the server is still adopted.
func TestGatewayPageOnCreateCostsTheLearnedWindowNotTheGrace(t *testing.T) {
	for _, made := range []bool{false, true} {
		t.Run(fmt.Sprintf("server made before the 502: %t", made), func(t *testing.T) {
			g := NewWithT(t)
			e := newEnv(t, vpsiesim.Options{BootDelay: 300 * time.Millisecond})
			// A grace no test could wait out: only what was measured can shorten it.
			e.intents = &intent.Tracker{Grace: time.Hour, MinProofWindow: 200 * time.Millisecond}
			for _, name := range []string{"measured-1", "measured-2", "measured-3"} {
				g.Expect(reconcileInRealTimeUntilRunning(t, e, e.machineScope(t, name), 10*time.Second)).To(BeTrue(), name)
			}
			s := e.machineScope(t, "worker-1")
			e.sim.SetFaults(vpsiesim.Faults{HTMLErrorNext: 1, Routes: []string{"POST /api/v2/vm"}, ProcessBeforeFailing: made})
			g.Expect(reconcileInRealTimeUntilRunning(t, e, s, 20*time.Second)).To(BeTrue(),
				"running long before the one-hour grace")
			g.Expect(liveVMs(e, s.Hostname())).To(Equal(1))
			wantCreates := 3 + 2 // the 502 made nothing: sent again
			if made {
				wantCreates = 3 + 1 // the 502 hid a server that was made: adopted
			}
			g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(wantCreates))
		})
	}
}

// A deletion this process sent is confirmed by the shared list that no longer shows the server, without a GET
// of its own (it was a quarter of a machine lifecycle's calls). A deletion an earlier process sent is read.
func TestDeleteIsConfirmedByTheList(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1, DeleteDelay: 300 * time.Millisecond})
	s := e.machineScope(t, "worker-1")
	reconcileUntilRunning(t, e, s)
	e.sim.ResetCounters()
	// The same process, on the real clock: it knows the server's tags, and will know the delete it sends.
	e.observer = &Observer{Window: time.Millisecond, ServerTags: e.observer.serverTags()}
	e.intents.Now = nil
	g.Eventually(func() bool {
		done, _, err := e.service(s).Delete(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		return done
	}, 5*time.Second, 20*time.Millisecond).Should(BeTrue())
	g.Expect(e.sim.RequestCount("DELETE /api/v2/vm")).To(Equal(1))
	g.Expect(e.sim.RequestCount(getVMRoute)).To(BeZero(), "the list confirmed it")
	g.Expect(liveVMs(e, s.Hostname())).To(BeZero())

	other := e.machineScope(t, "worker-2")
	reconcileUntilRunning(t, e, other)
	done, _, err := e.service(other).Delete(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done).To(BeFalse())
	e.restart() // the process that sent the delete is gone
	e.sim.ResetCounters()
	deleteUntilDone(t, e, func() *Service { return e.service(other) })
	g.Expect(e.sim.RequestCount(getVMRoute)).To(BeNumerically(">=", 1), "a delete sent by another process is confirmed by a GET")
	g.Expect(liveVMs(e, other.Hostname())).To(BeZero())
}

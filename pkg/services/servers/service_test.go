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

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

const (
	testToken    = "test-token"
	testPassword = "account-password"
	bootstrap    = "#cloud-config\nruncmd: [kubeadm join]\n"
)

// env is a simulator, an account on it and the Kubernetes objects a machine scope needs (in a fake client:
// the service only reads the bootstrap Secret).
type env struct {
	sim      *vpsiesim.Server
	account  *scope.Account
	observer *Observer
	intents  *intent.Tracker
	// identity is the one recorded on the VPSieCluster of new scopes; manager the running manager's.
	identity, manager string
}

func (e *env) service(s *scope.MachineScope) *Service {
	return NewService(s, e.observer, e.intents, Timing{})
}

// restart is a new controller process: its observer and tracker start empty; objects keep their status.
func (e *env) restart() {
	e.observer = &Observer{Window: time.Hour}
	e.intents = &intent.Tracker{}
}

func newEnv(t *testing.T, opts vpsiesim.Options) *env {
	t.Helper()
	opts.Tokens = []string{testToken}
	opts.AccountPassword = testPassword
	sim := vpsiesim.NewServer(opts)
	t.Cleanup(sim.Close)
	api, err := vpsie.New(vpsie.Config{BaseURL: sim.URL, Token: testToken, RequestsPerMinute: 6000, Burst: 100,
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 10 * time.Millisecond})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return &env{
		sim:      sim,
		account:  &scope.Account{API: api, Key: fmt.Sprintf("%s-%p", t.Name(), sim), Password: testPassword},
		observer: &Observer{Window: time.Hour},
		intents:  &intent.Tracker{},
		identity: "mgmt-a",
		manager:  "mgmt-a",
	}
}

func (e *env) machineScope(t *testing.T, name string, mutate ...func(*infrav1.VPSieMachine)) *scope.MachineScope {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, clusterv1.AddToScheme, infrav1.AddToScheme} {
		NewWithT(t).Expect(add(scheme)).To(Succeed())
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + "-bootstrap"},
		Data: map[string][]byte{"value": []byte(bootstrap)}}
	cluster := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "demo"}}
	machine := &clusterv1.Machine{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: clusterv1.MachineSpec{ClusterName: "demo", Bootstrap: clusterv1.Bootstrap{DataSecretName: ptr.To(secret.Name)}}}
	vc := &infrav1.VPSieCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "demo",
		Annotations: map[string]string{infrav1.OwnerIdentityAnnotation: e.identity}},
		Spec: infrav1.VPSieClusterSpec{Datacenter: vpsiesim.DefaultDatacenter}}
	vm := &infrav1.VPSieMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: infrav1.VPSieMachineSpec{Plan: vpsiesim.DefaultPlan, Image: vpsiesim.DefaultImage}}
	for _, m := range mutate {
		m(vm)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(secret, cluster, machine, vc, vm).WithStatusSubresource(vm).Build()
	s, err := scope.NewMachineScope(scope.MachineScopeParams{Client: c, Cluster: cluster, Machine: machine,
		VPSieCluster: vc, VPSieMachine: vm, Account: e.account, Manager: e.manager})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return s
}

// reconcileUntilRunning reconciles like the controller would, with a fresh observer window each pass.
func reconcileUntilRunning(t *testing.T, e *env, s *scope.MachineScope) Result {
	t.Helper()
	g := NewWithT(t)
	var res Result
	clock := time.Now()
	e.observer.Now = func() time.Time { return clock }
	e.intents.Now = func() time.Time { return clock }
	g.Eventually(func() *vpsie.VM {
		clock = clock.Add(2 * e.observer.window()) // every pass sees a new list
		var err error
		res, err = e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		return res.Server
	}, 10*time.Second, 50*time.Millisecond).ShouldNot(BeNil())
	return res
}

func TestCreateThenRunning(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: 200 * time.Millisecond})
	s := e.machineScope(t, "worker-1", func(m *infrav1.VPSieMachine) {
		m.Spec.Tags = []string{"team-a"}
		m.Spec.AdditionalCloudInit = "#cloud-config\npackages: [htop]\n"
	})

	res, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Server).To(BeNil())
	g.Expect(s.VPSieMachine.Status.ServerState).To(Equal(infrav1.ServerStatePending))
	g.Expect(conditions.GetReason(s.VPSieMachine, infrav1.ServerReadyCondition)).To(Equal(infrav1.PendingReason))

	res = reconcileUntilRunning(t, e, s)
	vms := e.sim.VMsByHostname(s.Hostname())
	g.Expect(vms).To(HaveLen(1))
	vm := vms[0]
	g.Expect(s.VPSieMachine.Spec.ProviderID).To(Equal("vpsie://" + vm.Identifier))
	g.Expect(s.VPSieMachine.Status.ServerState).To(Equal(infrav1.ServerStateRunning))
	g.Expect(s.VPSieMachine.Status.Addresses).To(ContainElement(clusterv1.MachineAddress{Type: clusterv1.MachineExternalIP, Address: vm.PublicIPv4}))
	g.Expect(s.VPSieMachine.Status.Addresses).To(ContainElement(clusterv1.MachineAddress{Type: clusterv1.MachineHostName, Address: s.Hostname()}))
	g.Expect(s.VPSieMachine.Status.FailureDomain).To(Equal(vpsiesim.DefaultDatacenter))
	g.Expect(vm.Tags).To(ContainElements(scope.TagManaged, "capvpsie-cluster:default/demo", "capvpsie-machine:worker-1", "team-a"))
	g.Expect(vm.AddPublicIPv4).To(BeTrue())
	g.Expect(vm.NumericFlags).To(BeEmpty(), "flags go as strings")
	userData, err := vm.DecodedUserData()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(userData)).To(ContainSubstring("multipart/mixed"), "extra cloud-init is merged as a MIME part")
	g.Expect(conditions.IsTrue(s.VPSieMachine, infrav1.ServerReadyCondition)).To(BeTrue())
}

func TestAdoptsServerAfterLostCreate(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	// The create happened, but its answer was lost and nothing was recorded: a crash, or a 502 after the fact.
	e.sim.SetFaults(vpsiesim.Faults{HTMLErrorNext: 1, ProcessBeforeFailing: true, Routes: []string{"POST /api/v2/vm"}})
	s := e.machineScope(t, "worker-1")
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred(), "a failed create is not an error to back off on: the server may exist")
	g.Expect(e.sim.VMsByHostname(s.Hostname())).To(HaveLen(1), "the create took effect")
	g.Expect(s.VPSieMachine.Status.CreateIntent).NotTo(BeNil(), "the intent was recorded before the call")
	g.Expect(s.VPSieMachine.Status.CreateIntent.IsAccepted()).To(BeFalse(), "and not as accepted")

	// A new process (same status) must adopt, not create.
	e.restart()
	reconcileUntilRunning(t, e, s)
	g.Expect(e.sim.VMsByHostname(s.Hostname())).To(HaveLen(1), "no second server")
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(1))
}

func TestAcceptedCreateIsNeverRepeated(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1, Faults: vpsiesim.Faults{NeverBoot: []string{"*"}}})
	s := e.machineScope(t, "worker-1")
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.VPSieMachine.Status.ServerState).To(Equal(infrav1.ServerStatePending))

	// VPSie loses the server from both lists (it vanishes while pending); a new process looks again.
	for _, vm := range e.sim.VMsByHostname(s.Hostname()) {
		g.Expect(e.sim.VanishVM(vm.Identifier)).To(Succeed())
	}
	e.restart()
	for range 3 {
		_, err := e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(1), "an accepted create is never repeated")
}

func TestTerminalErrorsAreClassified(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := e.machineScope(t, "worker-1", func(m *infrav1.VPSieMachine) { m.Spec.Plan = "no-such-plan" })
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).To(HaveOccurred())
	g.Expect(vpsie.IsTerminal(err)).To(BeTrue(), "an unknown plan is terminal: %v", err)

	s = e.machineScope(t, "worker-2", func(m *infrav1.VPSieMachine) { m.Spec.SSHKeys = []string{"a", "b"} })
	_, err = e.service(s).Reconcile(context.Background())
	g.Expect(err).To(MatchError(ContainSubstring(`SSH key "a" does not exist in the VPSie account`)))
}

func TestDelete(t *testing.T) {
	t.Run("running server", func(t *testing.T) {
		g := NewWithT(t)
		e := newEnv(t, vpsiesim.Options{BootDelay: -1})
		s := e.machineScope(t, "worker-1")
		reconcileUntilRunning(t, e, s)
		// Deletion reads the shared snapshot too: let every pass see a new one.
		e.observer = &Observer{Window: time.Millisecond}
		svc := e.service(s)
		g.Eventually(func() bool {
			done, _, err := svc.Delete(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			return done
		}, 5*time.Second, 20*time.Millisecond).Should(BeTrue())
		g.Expect(e.sim.VMs()).To(BeEmpty())
		g.Expect(e.sim.DeletedVMs()).To(HaveLen(1))
	})
	t.Run("already gone", func(t *testing.T) {
		g := NewWithT(t)
		e := newEnv(t, vpsiesim.Options{BootDelay: -1})
		s := e.machineScope(t, "worker-1", func(m *infrav1.VPSieMachine) { m.Spec.ProviderID = "vpsie://does-not-exist" })
		done, _, err := e.service(s).Delete(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(done).To(BeTrue())
	})
	t.Run("never created", func(t *testing.T) {
		g := NewWithT(t)
		e := newEnv(t, vpsiesim.Options{BootDelay: -1})
		s := e.machineScope(t, "worker-1")
		done, _, err := e.service(s).Delete(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(done).To(BeTrue())
		g.Expect(e.sim.RequestCount("DELETE /api/v2/vm")).To(BeZero())
	})
	t.Run("created but never recorded", func(t *testing.T) {
		g := NewWithT(t)
		e := newEnv(t, vpsiesim.Options{BootDelay: -1})
		s := e.machineScope(t, "worker-1")
		_, err := e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		s = e.machineScope(t, "worker-1") // status lost
		g.Eventually(func() bool {
			done, _, err := NewService(s, &Observer{}, &intent.Tracker{}, Timing{}).Delete(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			return done
		}, 5*time.Second, 20*time.Millisecond).Should(BeTrue())
		g.Expect(e.sim.VMs()).To(BeEmpty(), "found by hostname and deleted: nothing leaks")
	})
}

// TestBatchPolling: machines waiting for their servers share one VM list per poll window.
func TestBatchPolling(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: time.Hour})
	now := time.Now()
	e.observer = &Observer{Window: 10 * time.Second, Now: func() time.Time { return now }}
	scopes := make([]*scope.MachineScope, 20)
	for i := range scopes {
		scopes[i] = e.machineScope(t, fmt.Sprintf("worker-%d", i))
		_, err := e.service(scopes[i]).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(e.sim.PendingVMs()).To(HaveLen(20))
	e.sim.ResetCounters()
	now = now.Add(11 * time.Second)

	// The next poll window: all 20 waiting machines reconcile, concurrently, several times.
	var wg sync.WaitGroup
	for range 3 {
		for _, s := range scopes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.service(s).Reconcile(context.Background())
				g.Expect(err).NotTo(HaveOccurred())
			}()
		}
		wg.Wait()
	}
	g.Expect(e.sim.RequestCount("GET /api/v2/vm")).To(Equal(1), "one VM list for 60 reconciles in a window")
	g.Expect(e.sim.RequestCount("GET /apps/v2/vm/pending")).To(Equal(1))
	g.Expect(e.sim.TotalRequests()).To(Equal(2))

	now = now.Add(11 * time.Second) // and the one after
	for _, s := range scopes {
		_, err := e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(e.sim.RequestCount("GET /api/v2/vm")).To(Equal(2))
}

// runningMachines makes n machines, worker-0 to worker-n-1, and reconciles each until its server runs.
func runningMachines(t *testing.T, e *env, n int) []*scope.MachineScope {
	t.Helper()
	scopes := make([]*scope.MachineScope, n)
	for i := range scopes {
		scopes[i] = e.machineScope(t, fmt.Sprintf("worker-%d", i))
		reconcileUntilRunning(t, e, scopes[i])
	}
	return scopes
}

// Machines whose servers run read the VM list alone: while nothing is being created, an account costs one
// request per poll window, not two. A machine still waiting for its server reads the queue too.
func TestRunningMachinesDoNotReadTheQueue(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	scopes := runningMachines(t, e, 5)
	now := time.Now()
	e.observer = &Observer{Window: 10 * time.Second, Now: func() time.Time { return now }}
	e.sim.ResetCounters()
	for range 3 { // three running checks, each past the age a running machine's list may have
		now = now.Add(DefaultRunningPollInterval/2 + time.Second)
		for _, s := range scopes {
			res, err := e.service(s).Reconcile(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Server).NotTo(BeNil())
		}
	}
	g.Expect(e.sim.RequestCount("GET /api/v2/vm")).To(Equal(3), "one list per check")
	g.Expect(e.sim.RequestCount("GET /apps/v2/vm/pending")).To(BeZero(), "nothing pending: the queue is not read")
	g.Expect(e.sim.TotalRequests()).To(Equal(3))

	// A new machine in the same window reads the queue (and the list with it) before creating anything.
	waiting := e.machineScope(t, "worker-new")
	_, err := e.service(waiting).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.sim.RequestCount("GET /apps/v2/vm/pending")).To(BeNumerically(">=", 1))
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(Equal(1))
}

// Deleting machines wait on the account's shared snapshot, not on lists of their own: a window in which five
// machines poll their deletion costs the one snapshot.
func TestDeletingMachinesShareTheSnapshot(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1, DeleteDelay: time.Hour})
	scopes := runningMachines(t, e, 5)
	now := time.Now()
	tick := func() time.Time { now = now.Add(time.Millisecond); return now } // every reading of the clock moves it
	e.observer = &Observer{Window: 10 * time.Second, Now: tick}
	e.intents.Now = tick
	for _, s := range scopes {
		done, _, err := e.service(s).Delete(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(done).To(BeFalse())
	}
	g.Expect(e.sim.RequestCount("DELETE /api/v2/vm")).To(Equal(5))
	e.sim.ResetCounters()
	for range 3 { // three poll windows while VPSie deletes
		now = now.Add(11 * time.Second)
		for _, s := range scopes {
			done, _, err := e.service(s).Delete(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(done).To(BeFalse())
		}
	}
	g.Expect(e.sim.RequestCount("GET /api/v2/vm")).To(Equal(3), "one list per window for all deleting machines")
	g.Expect(e.sim.TotalRequests()).To(Equal(6), "the list and the queue, once per window; no DELETE sent twice: %v", e.sim.Requests())
}

// The per-machine comparison mode reads each known server with a GET of its own at every poll, where the
// shared list costs one request per window for all of them; both see a vanished server as gone.
func TestPerMachinePollingComparisonMode(t *testing.T) {
	for _, perMachine := range []bool{false, true} {
		t.Run(fmt.Sprintf("per machine: %t", perMachine), func(t *testing.T) {
			g := NewWithT(t)
			e := newEnv(t, vpsiesim.Options{BootDelay: -1})
			scopes := runningMachines(t, e, 4)
			now := time.Now()
			e.observer = &Observer{Window: 10 * time.Second, PerMachine: perMachine, Now: func() time.Time { return now }}
			e.sim.ResetCounters()
			now = now.Add(DefaultRunningPollInterval/2 + time.Second)
			for _, s := range scopes {
				res, err := e.service(s).Reconcile(context.Background())
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(res.Server).NotTo(BeNil())
			}
			want := map[string]int{"GET /api/v2/vm": 1}
			if perMachine {
				want = map[string]int{"GET /api/v2/vm/{identifier}": 4}
			}
			g.Expect(e.sim.Requests()).To(Equal(want))

			g.Expect(e.sim.VanishVM(scopes[0].ServerIdentifier())).To(Succeed())
			now = now.Add(DefaultRunningPollInterval/2 + time.Second)
			_, err := e.service(scopes[0]).Reconcile(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(scopes[0].VPSieMachine.Status.ServerState).To(Equal(infrav1.ServerStateNotFound))
		})
	}
}

// Running machines checked at their running interval, at staggered times, share lists up to half that interval
// old: an idle account costs at most two lists a running interval, whatever the number of machines.
func TestIdleAccountCostDoesNotGrowWithMachines(t *testing.T) {
	for _, n := range []int{4, 12} {
		t.Run(fmt.Sprintf("%d machines", n), func(t *testing.T) {
			g := NewWithT(t)
			e := newEnv(t, vpsiesim.Options{BootDelay: -1})
			scopes := runningMachines(t, e, n)
			start := time.Now()
			now := start
			e.observer = &Observer{Window: DefaultPollWindow, Now: func() time.Time { return now }}
			e.sim.ResetCounters()
			next := make([]time.Time, n)
			for i := range next {
				next[i] = start.Add(time.Duration(i) * DefaultRunningPollInterval / time.Duration(n)) // spread over a minute
			}
			for ; now.Sub(start) < 5*time.Minute; now = now.Add(time.Second) {
				for i, s := range scopes {
					if now.Before(next[i]) {
						continue
					}
					res, err := e.service(s).Reconcile(context.Background())
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(res.RequeueAfter).To(Equal(DefaultRunningPollInterval))
					next[i] = now.Add(res.RequeueAfter)
				}
			}
			g.Expect(e.sim.RequestCount("GET /api/v2/vm")).To(BeNumerically("<=", 2*5+1), "two lists a minute for five minutes")
			g.Expect(e.sim.TotalRequests()).To(Equal(e.sim.RequestCount("GET /api/v2/vm")), "%v", e.sim.Requests())
		})
	}
}

// A deletion reconciled again from a cache that does not show the server Deleting yet does not send a second
// delete while VPSie is still deleting the server.
func TestDeleteIsNotResentFromAStaleObject(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1, DeleteDelay: time.Hour})
	s := e.machineScope(t, "worker-1")
	reconcileUntilRunning(t, e, s)
	stale := s.VPSieMachine.DeepCopy() // as the cache still shows it after the first deletion pass
	e.observer = &Observer{Window: time.Millisecond}
	done, _, err := e.service(s).Delete(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done).To(BeFalse())
	g.Expect(s.VPSieMachine.Status.ServerState).To(Equal(infrav1.ServerStateDeleting))
	s.VPSieMachine = stale
	done, _, err = e.service(s).Delete(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done).To(BeFalse())
	g.Expect(e.sim.RequestCount("DELETE /api/v2/vm")).To(Equal(1), "one delete per server")
}

// A machine waiting for its server looks again when the account's next list is due, not a whole poll after
// its own look: it sees the new list as soon as one is taken.
func TestWaitingMachinesLookWhenTheNextListIsDue(t *testing.T) {
	g := NewWithT(t)
	// Created, then listed unpowered (booting) for the whole test.
	e := newEnv(t, vpsiesim.Options{BootDelay: -1, Faults: vpsiesim.Faults{BootListedUnpowered: time.Hour}})
	now := time.Now()
	e.observer = &Observer{Window: 10 * time.Second, Now: func() time.Time { return now }}
	e.intents.Now = func() time.Time { return now }
	s := e.machineScope(t, "worker-1")
	res, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.RequeueAfter).To(Equal(DefaultPollInterval), "the list was just taken: the next is a window away, at most a poll")

	now = now.Add(4 * time.Second) // the same list serves this look
	res, err = e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.RequeueAfter).To(Equal(6*time.Second+refreshSlack), "looks again when the next list is due")

	g.Eventually(func() infrav1.ServerState {
		now = now.Add(10*time.Second + refreshSlack)
		_, err := e.service(s).Reconcile(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		return s.VPSieMachine.Status.ServerState
	}, 5*time.Second, 10*time.Millisecond).Should(Equal(infrav1.ServerStateBooting))
	now = now.Add(9 * time.Second)
	res, err = e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.RequeueAfter).To(Equal(time.Second+refreshSlack), "a booting server too")

	e.observer.PerMachine = true
	g.Expect(e.observer.UntilRefresh(e.account, 7*time.Second)).To(Equal(7*time.Second), "per-machine polling reads no shared list")
	now = now.Add(time.Hour)
	e.observer.PerMachine = false
	g.Expect(e.observer.UntilRefresh(e.account, 7*time.Second)).To(Equal(refreshSlack), "a list long due: look again soon, never at once")
}

// While a create is under way, every refresh of the account's list reads the queue with it: a machine
// watching its booting server and one about to create share one snapshot, not two of their own.
func TestRefreshesReadTheQueueWhileCreatesAreUnderWay(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	now := time.Now()
	e.observer = &Observer{Window: 10 * time.Second, Now: func() time.Time { return now }}
	_, err := e.observer.Snapshot(context.Background(), e.account) // a create's lookup
	g.Expect(err).NotTo(HaveOccurred())
	e.sim.ResetCounters()

	now = now.Add(10*time.Second + refreshSlack)
	_, err = e.observer.Server(context.Background(), e.account, "some-booting-server", 0) // refreshes, queue included
	g.Expect(err).NotTo(HaveOccurred())
	_, err = e.observer.Snapshot(context.Background(), e.account) // served by the same snapshot
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.sim.RequestCount("GET /api/v2/vm")).To(Equal(1))
	g.Expect(e.sim.RequestCount("GET /apps/v2/vm/pending")).To(Equal(1))

	now = now.Add(time.Minute) // no create for two windows: lists alone again
	_, err = e.observer.Server(context.Background(), e.account, "some-booting-server", 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.sim.RequestCount("GET /apps/v2/vm/pending")).To(Equal(1))
}

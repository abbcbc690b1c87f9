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

package loadbalancers_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/loadbalancers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// newLB starts a simulator with one active load balancer forwarding 6443 and returns it with an account.
func newLB(t *testing.T) (*vpsiesim.Server, *scope.Account, string) {
	t.Helper()
	g := NewWithT(t)
	sim := vpsiesim.NewServer(vpsiesim.Options{Tokens: []string{"t"}, AccountPassword: "pw", LBPendingDelay: -1})
	t.Cleanup(sim.Close)
	api, err := vpsie.New(vpsie.Config{BaseURL: sim.URL, Token: "t", RequestsPerMinute: 60000, Burst: 1000,
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(api.CreateLoadBalancer(context.Background(), vpsie.CreateLoadBalancerRequest{
		Name: "lb", Algorithm: "roundrobin", ResourceIdentifier: vpsiesim.DefaultLBPlan, DcIdentifier: vpsiesim.DefaultDatacenter,
		Rules: []vpsie.LBRuleSpec{{Scheme: "tcp", FrontPort: "6443", BackPort: "6443"}},
	})).To(Succeed())
	lbs := sim.LoadBalancersByName("lb")
	g.Expect(lbs).To(HaveLen(1))
	return sim, &scope.Account{API: api, Key: "k", Password: "pw"}, lbs[0].Identifier
}

func backends(sim *vpsiesim.Server, id string) []vpsiesim.LBBackend {
	for _, lb := range sim.LoadBalancers() {
		if lb.Identifier == id {
			return lb.Rules[0].Backends
		}
	}
	return nil
}

// TestEnsureAndRemoveBackend: backends are added once (idempotent), a server's changed address replaces its
// old entry, other servers are kept, and removal tolerates what is already gone.
func TestEnsureAndRemoveBackend(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sim, account, id := newLB(t)

	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, "vm-1", "198.18.0.50", 6443)).To(Succeed())
	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, "vm-1", "198.18.0.50", 6443)).To(Succeed())
	g.Expect(sim.RequestCount("POST /api/v1/lb/rule/update")).To(Equal(1), "a present backend is not written again")
	g.Expect(backends(sim, id)).To(ConsistOf(SatisfyAll(HaveField("VMIdentifier", "vm-1"), HaveField("IP", "198.18.0.50"))))

	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, "vm-2", "198.18.0.51", 6443)).To(Succeed())
	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, "vm-1", "198.18.0.60", 6443)).To(Succeed())
	g.Expect(backends(sim, id)).To(ConsistOf(
		SatisfyAll(HaveField("VMIdentifier", "vm-1"), HaveField("IP", "198.18.0.60")),
		SatisfyAll(HaveField("VMIdentifier", "vm-2"), HaveField("IP", "198.18.0.51"))))
	has, err := loadbalancers.HasBackend(ctx, account, id, "vm-2", 6443)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(has).To(BeTrue())

	g.Expect(loadbalancers.RemoveBackend(ctx, account, id, "vm-1")).To(Succeed())
	g.Expect(backends(sim, id)).To(ConsistOf(HaveField("VMIdentifier", "vm-2")))
	g.Expect(sim.RequestCount("DELETE /api/v1/lb/delete/backend")).To(Equal(1))
	g.Expect(loadbalancers.RemoveBackend(ctx, account, id, "vm-1")).To(Succeed(), "removing an absent backend is a no-op")
	g.Expect(loadbalancers.RemoveBackend(ctx, account, "no-such-lb", "vm-2")).To(Succeed(), "a gone load balancer is success")
	g.Expect(backends(sim, id)).To(HaveLen(1))
}

// TestEnsureBackendErrors: a port without a rule is terminal, a missing load balancer is not-found.
func TestEnsureBackendErrors(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	_, account, id := newLB(t)

	err := loadbalancers.EnsureBackend(ctx, account, id, "vm-1", "198.18.0.50", 443)
	g.Expect(errors.Is(err, services.ErrTerminal)).To(BeTrue(), "got %v", err)
	err = loadbalancers.EnsureBackend(ctx, account, "no-such-lb", "vm-1", "198.18.0.50", 6443)
	g.Expect(vpsie.IsNotFound(err)).To(BeTrue(), "got %v", err)
	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, "", "198.18.0.50", 6443)).NotTo(Succeed())
}

// TestEnsureBackendConcurrent: control-plane machines reconciled at the same time all end up as backends
// (the read-modify-write of a rule is serialised per load balancer).
func TestEnsureBackendConcurrent(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sim, account, id := newLB(t)
	var wg sync.WaitGroup
	for i, ip := range []string{"198.18.0.71", "198.18.0.72", "198.18.0.73"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = loadbalancers.EnsureBackend(ctx, account, id, "vm-"+string(rune('a'+i)), ip, 6443)
		}()
	}
	wg.Wait()
	g.Expect(backends(sim, id)).To(HaveLen(3))
}

// TestPruneBackendsOfGoneServers (item 8): a backend whose server VPSie no longer knows is removed; one whose
// server the lagging list does not show yet, but which exists, is kept; the check runs once per interval.
func TestPruneBackendsOfGoneServers(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sim, account, id := newLB(t)
	g.Expect(account.API.CreateVM(ctx, vpsie.CreateVMRequest{ResourceIdentifier: vpsiesim.DefaultPlan, OSIdentifier: vpsiesim.DefaultImage,
		DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: "cp-1", AddPublicIPv4: vpsie.Flag(true)})).To(Succeed())
	g.Eventually(func() []vpsiesim.VM { return sim.VMsByHostname("cp-1") }).Should(HaveLen(1))
	var live string
	g.Eventually(func() bool {
		vm := sim.VMsByHostname("cp-1")[0]
		live = vm.Identifier
		return vm.State == vpsiesim.VMRunning
	}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, live, "198.18.0.50", 6443)).To(Succeed())
	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, "gone-server", "198.18.0.51", 6443)).To(Succeed())
	sim.SetFaults(vpsiesim.Faults{ListLag: time.Hour}) // the list no longer shows what booted in the last hour

	now := time.Now()
	p := &loadbalancers.BackendPruner{Interval: time.Minute, Now: func() time.Time { return now }}
	lb, err := account.API.GetLoadBalancer(ctx, id)
	g.Expect(err).NotTo(HaveOccurred())
	removed, err := p.Prune(ctx, account, lb)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(removed).To(Equal([]string{"gone-server"}))
	g.Expect(backends(sim, id)).To(ConsistOf(HaveField("VMIdentifier", live)), "the existing server stays a backend")

	g.Expect(loadbalancers.EnsureBackend(ctx, account, id, "gone-again", "198.18.0.52", 6443)).To(Succeed())
	lb, err = account.API.GetLoadBalancer(ctx, id)
	g.Expect(err).NotTo(HaveOccurred())
	removed, err = p.Prune(ctx, account, lb)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(removed).To(BeEmpty(), "not due yet")
	now = now.Add(time.Minute)
	removed, err = p.Prune(ctx, account, lb)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(removed).To(Equal([]string{"gone-again"}))
}

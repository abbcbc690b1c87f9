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

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// h is the management cluster every scenario runs on. Scenarios run one after another (the simulator's
// request counters are reset at the start of each).
var h *Harness

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Println("e2e: KUBEBUILDER_ASSETS is not set: run `make test-e2e`, or " +
			"export KUBEBUILDER_ASSETS=\"$(hack/kube-assets.sh)\"")
		return 1
	}
	if os.Getenv("TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		ctrl.SetLogger(zap.New(zap.WriteTo(discard{})))
	}
	start := time.Now()
	var err error
	h, err = Start(Options{Logf: func(f string, a ...any) { fmt.Printf("e2e: "+f+"\n", a...) }})
	if err != nil {
		fmt.Println("e2e: starting the harness:", err)
		return 1
	}
	fmt.Printf("e2e: management cluster up in %s\n", time.Since(start).Round(100*time.Millisecond))
	code := m.Run()
	if code != 0 {
		fmt.Printf("e2e: end of the provider's log (%s):\n%s\n", h.Provider.LogPath, h.Provider.LogTail(80))
	}
	h.Stop()
	return code
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// scenario is one test's namespace, counters and report.
type scenario struct {
	t        *testing.T
	g        Gomega
	ctx      context.Context
	ns       string
	started  time.Time
	machines map[string]bool // every Machine seen during the scenario
}

func newScenario(t *testing.T, kubeletSetsProviderID bool) *scenario {
	t.Helper()
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	ns, err := h.CreateNamespace(ctx, "e2e")
	g.Expect(err).NotTo(HaveOccurred())
	h.SetKubeletSetsProviderID(ns, kubeletSetsProviderID)
	h.Sim.ResetCounters()
	s := &scenario{t: t, g: g, ctx: ctx, ns: ns, started: time.Now(), machines: map[string]bool{}}
	t.Cleanup(s.report)
	logFrom := h.Provider.LogSize()
	t.Cleanup(func() { s.scanLog(logFrom) })
	return s
}

// scanLog fails the scenario when the provider logged, during it, credentials, a token, the account password
// or bootstrap data (the excerpts shown have the secret masked).
func (s *scenario) scanLog(from int64) {
	leaks, err := h.LeaksSince(from)
	if err != nil {
		s.t.Errorf("reading the provider's log: %v", err)
		return
	}
	for _, l := range leaks {
		s.t.Errorf("the provider logged the %s (log line %d after the scenario's start): %s", l.What, l.Line, l.Excerpt)
	}
}

// see records the Machines of a cluster, for the per-machine cost.
func (s *scenario) see(machines []clusterv1.Machine) {
	for _, m := range machines {
		s.machines[m.Name] = true
	}
}

// report prints the VPSie API calls per Machine the scenario cost.
func (s *scenario) report() {
	total := h.Sim.TotalRequests()
	n := len(s.machines)
	perMachine := "n/a"
	if n > 0 {
		perMachine = fmt.Sprintf("%.1f", float64(total)/float64(n))
	}
	s.t.Logf("VPSie API calls: %d for %d machines in %s", total, n, time.Since(s.started).Round(100*time.Millisecond))
	fmt.Printf("%s: API calls per machine: %s\n", s.t.Name(), perMachine)
}

// workerCluster creates a cluster without control-plane Machines and reports its control plane initialized.
func (s *scenario) workerCluster(name string, opts ClusterOptions) *Cluster {
	c, err := h.CreateCluster(s.ctx, s.ns, name, opts)
	s.g.Expect(err).NotTo(HaveOccurred())
	s.g.Expect(h.MarkControlPlaneInitialized(s.ctx, c)).To(Succeed())
	return c
}

func (s *scenario) machineDeployment(c *Cluster, name string, replicas int32) *clusterv1.MachineDeployment {
	md, err := h.CreateMachineDeployment(s.ctx, c, name, ptr.To(replicas), nil)
	s.g.Expect(err).NotTo(HaveOccurred())
	return md
}

// waitRunning waits for n Running Machines of md (all the cluster's when md is nil) and as many servers.
func (s *scenario) waitRunning(c *Cluster, md *clusterv1.MachineDeployment, n int) []clusterv1.Machine {
	name := ""
	if md != nil {
		name = md.Name
	}
	machines, err := h.WaitMachinesRunning(s.ctx, c, name, n)
	s.see(machines)
	s.g.Expect(err).NotTo(HaveOccurred())
	vms := h.ClusterVMs(c.Namespace, c.Name)
	s.g.Expect(vms).To(HaveLen(n), "servers of cluster %s", c.Name)
	return machines
}

// expectServersMatch checks that the cluster's servers are exactly the Machines' (by provider ID).
func (s *scenario) expectServersMatch(c *Cluster, machines []clusterv1.Machine) {
	want := map[string]bool{}
	for _, m := range machines {
		want[m.Spec.ProviderID] = true
	}
	got := map[string]bool{}
	for _, vm := range h.ClusterVMs(c.Namespace, c.Name) {
		got["vpsie://"+vm.Identifier] = true
	}
	s.g.Expect(got).To(Equal(want), "servers in the simulator vs providerIDs of the Machines")
}

func (s *scenario) deleteCluster(c *Cluster) {
	s.g.Expect(h.DeleteCluster(s.ctx, c)).To(Succeed())
	s.g.Expect(h.ClusterVMs(c.Namespace, c.Name)).To(BeEmpty(), "servers left after cluster deletion")
}

// Scenario 1: a worker-only cluster reaches all Machines Running with nodeRefs. The simulated kubelets leave
// spec.providerID empty here: the provider sets it, so Cluster API can match Machines and Nodes.
func TestWorkerOnlyClusterProviderSetsProviderID(t *testing.T) {
	s := newScenario(t, false)
	c := s.workerCluster("workers", ClusterOptions{})
	md := s.machineDeployment(c, "md-0", 3)
	machines := s.waitRunning(c, md, 3)
	s.expectServersMatch(c, machines)
	for _, m := range machines {
		node := &corev1.Node{}
		s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Name: m.Status.NodeRef.Name}, node)).To(Succeed())
		s.g.Expect(node.Spec.ProviderID).To(Equal(m.Spec.ProviderID), "the provider set the Node's providerID")
	}
	s.deleteCluster(c)
}

// Scenario 2: scale 3 -> 10 -> 2; Cluster API chooses the Machines, the provider deletes exactly their servers.
// (A worker-only cluster's Nodes are neither drained nor deleted by Cluster API: TestDrainRespectsPodDisruptionBudget.)
// The simulated kubelets register Nodes with their providerID.
func TestScaleUpAndDown(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("scale", ClusterOptions{})
	md := s.machineDeployment(c, "md-0", 3)
	first := s.waitRunning(c, md, 3)
	s.expectServersMatch(c, first)

	s.g.Expect(h.ScaleMachineDeployment(s.ctx, md, 10)).To(Succeed())
	ten := s.waitRunning(c, md, 10)
	s.expectServersMatch(c, ten)

	s.g.Expect(h.ScaleMachineDeployment(s.ctx, md, 2)).To(Succeed())
	two := s.waitRunning(c, md, 2)
	s.expectServersMatch(c, two)
	// Every server deleted belonged to a Machine Cluster API deleted, and the survivors' servers were kept.
	kept := map[string]bool{}
	for _, m := range two {
		kept[m.Spec.ProviderID] = true
	}
	deleted := map[string]bool{}
	for _, vm := range h.ClusterDeletedVMs(c.Namespace, c.Name) {
		deleted["vpsie://"+vm.Identifier] = true
	}
	for _, m := range ten {
		s.g.Expect(deleted[m.Spec.ProviderID]).To(Equal(!kept[m.Spec.ProviderID]), "server of Machine %s", m.Name)
	}
	s.g.Expect(h.Sim.RequestCount("DELETE /api/v2/vm")).To(BeNumerically("==", 8), "exactly 8 server deletions")
	s.deleteCluster(c)
}
